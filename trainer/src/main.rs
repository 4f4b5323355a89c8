//! `alro`: the command-line front of the project. This file only parses arguments and hands each
//! subcommand to its module in `commands/`; the work itself lives in `alro-core` or in the
//! trainer's own library modules.

mod commands;
mod model_path;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "alro",
    version,
    about = "Teach a small language model to rank, and run the ranker (ALRO)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Rank candidate lists read from a JSONL file (one request per line).
    Rank(commands::rank::RankArgs),
    /// Look inside a model: tokenization and next-token logits of raw text.
    #[command(subcommand)]
    Inspect(commands::inspect::InspectCommand),
    /// Rating datasets: statistics and ALRO example preparation.
    #[command(subcommand)]
    Data(commands::data::DataCommand),
    /// Item tables: what a ranker trained with notes needs to compute them from titles.
    #[command(subcommand)]
    Items(commands::items::ItemsCommand),
    /// Evaluate a ranker or a classical baseline on the ALRO test lists.
    Eval(commands::eval::EvalArgs),
    /// Fine-tune the backbone with LoRA and the ALRO objective.
    Train(commands::train::TrainArgs),
    /// Merge a trained checkpoint into its backbone and write quantized GGUF files.
    Export(commands::export::ExportArgs),
    /// Draw the loss and validation curves of training runs (SVG).
    Plot(commands::plot::PlotArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Rank(args) => commands::rank::run(args),
        Command::Inspect(cmd) => commands::inspect::run(cmd),
        Command::Data(cmd) => commands::data::run(cmd),
        Command::Items(cmd) => commands::items::run(cmd),
        Command::Eval(args) => commands::eval::run(args),
        Command::Train(args) => commands::train::run(args),
        Command::Plot(args) => commands::plot::run(args),
        Command::Export(args) => commands::export::run(args),
    };
    if let Err(err) = result {
        // `{:#}` prints the whole anyhow context chain on one line: "loading X: file Y: ...".
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
