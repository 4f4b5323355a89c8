//! `alro items build`: the item table (`alro_core::notes::ItemTable`) a ranker trained with notes
//! needs to compute them itself — titles, years and who rated what, from a rating dataset.

use super::data::source::DatasetArgs;
use alro_core::notes::ItemTable;
use alro_trainer::train::checkpoint::write_atomic;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ItemsCommand {
    /// Write the item table of a dataset (every rating counts): what `alro rank --items` and the
    /// browser package read to compute popularity, similarity and match notes.
    Build(BuildArgs),
}

#[derive(Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub data: DatasetArgs,
    /// The table file to write (JSON, e.g. models/items-ml-latest-small.json).
    #[arg(long)]
    pub out: PathBuf,
    /// Tiers of the match notes the table serves (BPR factors of every rating, tier boundaries
    /// set on histories of the prompt's length); 0 = a table without them (popularity and
    /// similarity notes only).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub match_tiers: usize,
}

pub fn run(cmd: ItemsCommand) -> Result<()> {
    match cmd {
        ItemsCommand::Build(args) => build(args),
    }
}

fn build(args: BuildArgs) -> Result<()> {
    let loaded = args.data.load()?;
    let ds = &loaded.dataset;
    let files: Vec<String> = loaded
        .inputs
        .iter()
        .map(|f| {
            let name = f.file.rsplit(['/', '\\']).next().unwrap_or(&f.file);
            format!("{name} sha256:{}", f.sha256)
        })
        .collect();
    let source = format!("{}: {}", ds.name, files.join(", "));
    let history_len = alro_core::prompt::PromptConfig::default().max_history;
    let matching = (args.match_tiers > 0).then_some((args.match_tiers, history_len));
    let table = ItemTable::from_dataset(ds, &source, matching)?;
    let text = table.to_json();
    // What is written must read back: the same checks the CLI and the browser apply.
    ItemTable::from_json(text.as_bytes()).context("the table just built does not read back")?;
    write_atomic(&args.out, text.as_bytes())?;
    let rated = (0..table.len())
        .filter(|&i| !table.item(i).raters.is_empty())
        .count();
    eprintln!(
        "{}: {} items ({rated} rated), {} users, {} ratings, {} bytes",
        args.out.display(),
        table.len(),
        table.users(),
        ds.ratings.len(),
        text.len()
    );
    Ok(())
}
