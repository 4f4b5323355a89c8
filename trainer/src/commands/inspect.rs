//! `alro inspect tokenize|logits`: raw model outputs, for checking against other implementations.

use crate::model_path;
use alro_core::model::{Kernels, MatrixPrecision};
use candle_core::{Device, Tensor};
use clap::{Args, Subcommand};
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
}

#[derive(Args)]
pub struct TextArgs {
    /// A .gguf file or a Hugging Face directory [default: $ALRO_MODEL or the setup's backbone]
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long)]
    text: String,
}

pub fn run(cmd: InspectCommand) -> anyhow::Result<()> {
    let device = Device::Cpu;
    match cmd {
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
