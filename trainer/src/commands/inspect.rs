//! `alro inspect tokenize|logits|prompt`: raw model inputs and outputs, for checking against other
//! implementations and replaying a ranking in another engine.

use super::rank;
use crate::model_path;
use alro_core::model::{Kernels, MatrixPrecision};
use candle_core::{Device, Tensor};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum InspectCommand {
    /// Token ids of raw text: {"ids": [...]}.
    Tokenize(TextArgs),
    /// Top-K next-token logits after raw text (no template; BOS only if the model asks):
    /// {"top": [{"id", "token", "logit"}]}.
    Logits {
        #[command(flatten)]
        text: TextArgs,
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
    /// For each request of a JSONL file (as `alro rank --input` reads), the exact prompt token
    /// ids `alro rank` feeds the model and the identifier token of each candidate in
    /// presentation order: {"ids": [...], "identifier_ids": [...]}, one line per request.
    Prompt(PromptArgs),
}

#[derive(Args)]
pub struct TextArgs {
    /// A .gguf file or a Hugging Face directory [default: $ALRO_MODEL or the setup's backbone]
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long)]
    text: String,
}

#[derive(Args)]
pub struct PromptArgs {
    /// A .gguf file or a Hugging Face directory [default: $ALRO_MODEL or the setup's backbone]
    #[arg(long)]
    model: Option<PathBuf>,
    /// JSONL requests, as `alro rank --input` reads them; `-` = stdin
    #[arg(long)]
    input: PathBuf,
    /// History entries shown to the model, as `alro rank --history` [default: the exported
    /// model's `alro.L`, else 10]
    #[arg(long)]
    history: Option<usize>,
    /// Item table for the notes of candidates without one, as `alro rank --items`
    /// [default: models/items-ml-latest-small.json when the ranker needs notes]
    #[arg(long, value_name = "FILE")]
    items: Option<PathBuf>,
}

/// One line of `alro inspect prompt` (a struct rather than `json!`, so the keys keep this order).
#[derive(serde::Serialize)]
struct Shown<'a> {
    ids: &'a [u32],
    identifier_ids: &'a [u32],
}

/// `alro inspect prompt`: the same reading, notes and validation as `alro rank` (every line
/// checked before any output), then each request's prompt tokens instead of a ranking.
fn prompt(a: PromptArgs) -> anyhow::Result<()> {
    let nothing = "no prompt written";
    let requests = rank::read_requests(&a.input, nothing)?;
    let ranker = rank::load_ranker(a.model, a.history)?;
    let requests = rank::ready_for(
        &ranker,
        &ranker.prompt,
        requests,
        &a.input,
        a.items.as_deref(),
        nothing,
    )?;
    let mut stdout = std::io::stdout().lock();
    for rank::Ready {
        prompt: prepared, ..
    } in &requests
    {
        let identifier_ids = &ranker.identifier_token_ids()[..prepared.candidates];
        let shown = Shown {
            ids: &prepared.tokens,
            identifier_ids,
        };
        writeln!(stdout, "{}", serde_json::to_string(&shown)?)?;
    }
    stdout.flush()?;
    Ok(())
}

pub fn run(cmd: InspectCommand) -> anyhow::Result<()> {
    let device = Device::Cpu;
    match cmd {
        InspectCommand::Prompt(a) => prompt(a)?,
        InspectCommand::Tokenize(a) => {
            let backbone = model_path::load(
                &model_path::ranker(a.model),
                MatrixPrecision::AsStored,
                &device,
            )?;
            let ids = backbone.tokenizer.encode_with_bos(&a.text)?;
            println!("{}", serde_json::json!({ "ids": ids }));
        }
        InspectCommand::Logits { text: a, top } => {
            let backbone = model_path::load(
                &model_path::ranker(a.model),
                MatrixPrecision::AsStored,
                &device,
            )?;
            let ids = backbone.tokenizer.encode_with_bos(&a.text)?;
            if ids.is_empty() {
                anyhow::bail!("--text is empty and the model adds no BOS token: nothing to run");
            }
            let input = Tensor::new(ids.as_slice(), &device)?.unsqueeze(0)?;
            let hidden = backbone
                .model
                .forward_hidden(&input, None, Kernels::Fused)?;
            let last = hidden.narrow(1, ids.len() - 1, 1)?.squeeze(1)?;
            let logits = backbone.model.logits(&last)?.squeeze(0)?.to_vec1::<f32>()?;
            let mut order: Vec<usize> = (0..logits.len()).collect();
            order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
            let top: Vec<_> = order
                .iter()
                .take(top)
                .map(|&i| {
                    serde_json::json!({
                        "id": i,
                        "token": backbone.tokenizer.id_to_token(i as u32).unwrap_or_default(),
                        "logit": logits[i],
                    })
                })
                .collect();
            println!("{}", serde_json::json!({ "top": top }));
        }
    }
    Ok(())
}
