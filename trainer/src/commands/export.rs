//! `alro export`: a trained checkpoint → merged, quantized GGUF files, with a size/quality table.

use crate::commands::progress::bar;
use crate::model_path;
use alro_core::data::{parse_jsonl, Manifest, RankingExample};
use alro_core::gguf::GgufFile;
use alro_core::model::{Backbone, MatrixPrecision};
use alro_core::rank::Ranker;
use alro_trainer::export::quality::{score_lists, ListScores};
use alro_trainer::export::report::{markdown_table, type_counts, ExportRow};
use alro_trainer::export::{export_gguf, model_card, CardText, Scheme};
use alro_trainer::train::checkpoint::{self, write_atomic};
use alro_trainer::train::run::RunDir;
use anyhow::{bail, Context, Result};
use candle_core::Device;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct ExportArgs {
    /// A checkpoint file, or a run directory (its best.safetensors, else last.safetensors)
    #[arg(long)]
    checkpoint: PathBuf,
    /// The GGUF backbone it was trained on [default: $ALRO_MODEL or the setup's backbone]
    #[arg(long)]
    model: Option<PathBuf>,
    /// Quantization schemes to write (repeat or comma-separate) [default: all four]
    #[arg(long, value_enum, value_delimiter = ',')]
    quant: Vec<Scheme>,
    /// Folder for `ranker.<quant>.gguf` files [default: the run directory]
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Exact output file (only with a single --quant)
    #[arg(long)]
    out: Option<PathBuf>,
    /// Prepared data directory (`alro data prepare`): its validation lists fill the table's
    /// NDCG column, and its manifest gives `alro.m` and `alro.L`
    #[arg(long)]
    data: Option<PathBuf>,
    /// Validation lists scored per file for the table (0: sizes only)
    #[arg(long, default_value_t = 50)]
    lists: usize,
    /// What a person calls the ranker (`alro.display_name`), e.g. "alro movie ranker —
    /// SmolLM2-135M fine-tuned with ALRO on MovieLens 100K"; shown by the browser page
    #[arg(long)]
    display_name: Option<String>,
    /// One line on how well it ranks (`alro.quality`), e.g. "NDCG@10 0.71 on 943 held-out
    /// MovieLens lists (popularity: 0.65)"
    #[arg(long)]
    quality: Option<String>,
    /// Link to the model card, relative to the page that shows the ranker (`alro.card_url`;
    /// '' writes none)
    #[arg(long, default_value = "models/README.md")]
    card_url: String,
    /// Instead of GGUF files, write the checkpoint's adapters alone in f16 (no optimizer state)
    /// to this file: the release artifact committed under `models/`, which `--checkpoint` (and
    /// `train --init-adapter`, `eval --adapter`) read back
    #[arg(long, value_name = "FILE", conflicts_with_all = ["quant", "out", "out_dir", "data"])]
    adapter_f16: Option<PathBuf>,
}

fn checkpoint_file(path: &Path) -> Result<PathBuf> {
    if !path.is_dir() {
        return Ok(path.to_path_buf());
    }
    let run = RunDir(path.to_path_buf());
    for p in [run.best(), run.last()] {
        if p.exists() {
            return Ok(p);
        }
    }
    bail!(
        "{} holds no checkpoint (best.safetensors or last.safetensors); train first with `alro train --out {}`",
        path.display(),
        path.display()
    )
}

fn read_manifest(dir: &Path) -> Result<Option<Manifest>> {
    let manifest_path = dir.join("manifest.json");
    match std::fs::read(&manifest_path) {
        Ok(b) => Ok(Some(serde_json::from_slice(&b).with_context(|| {
            format!("{}: not a manifest", manifest_path.display())
        })?)),
        Err(_) => Ok(None),
    }
}

fn read_validation(dir: &Path, limit: usize) -> Result<(Vec<RankingExample>, Option<Manifest>)> {
    let path = dir.join("validation.jsonl");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (write it with `alro data prepare`)",
            path.display()
        )
    })?;
    let mut examples = parse_jsonl(&path.display().to_string(), &text)?;
    examples.truncate(limit);
    Ok((examples, read_manifest(dir)?))
}

fn scores_with_bar(ranker: &Ranker, examples: &[RankingExample], what: &str) -> Result<ListScores> {
    let pb = bar(examples.len() as u64, what);
    let s = score_lists(ranker, examples, || pb.inc(1))?;
    pb.finish_and_clear();
    Ok(s)
}

pub fn run(args: ExportArgs) -> Result<()> {
    let schemes = if args.quant.is_empty() {
        Scheme::ALL.to_vec()
    } else {
        args.quant.clone()
    };
    if args.out.is_some() && schemes.len() != 1 {
        bail!("--out names one file; with several --quant use --out-dir");
    }
    let ckpt_path = checkpoint_file(&args.checkpoint)?;
    if let Some(dst) = &args.adapter_f16 {
        let n = checkpoint::save_adapters_f16(&ckpt_path, dst)?;
        eprintln!(
            "wrote {} ({n} adapter tensors in f16, {:.1} MB) from {}",
            dst.display(),
            std::fs::metadata(dst)?.len() as f64 / 1e6,
            ckpt_path.display()
        );
        return Ok(());
    }
    let model_path = model_path::backbone(args.model.clone());
    if model_path.is_dir() {
        bail!(
            "{}: export needs a GGUF backbone (it carries the tokenizer and metadata over to the \
             exported file); convert the Hugging Face directory with llama.cpp's \
             convert_hf_to_gguf.py and train on that file",
            model_path.display()
        );
    }
    let bytes = std::fs::read(&model_path).with_context(|| {
        format!(
            "reading backbone {} (run `bash scripts/setup.sh` for the default one)",
            model_path.display()
        )
    })?;
    let name = model_path.display().to_string();
    let file = GgufFile::parse(&bytes, &name)?;
    // Merging happens in f32 on the dequantized base, exactly the weights training saw.
    let mut backbone =
        Backbone::from_gguf_bytes(&bytes, &name, MatrixPrecision::F32, &Device::Cpu)?;
    let state = checkpoint::attach_trained(&ckpt_path, &mut backbone, &model_path)?;

    let (examples, manifest) = match &args.data {
        Some(dir) if args.lists > 0 => read_validation(dir, args.lists)?,
        // Sizes only: the manifest alone gives the model card (`m`, `L`, notes).
        Some(dir) => (Vec::new(), read_manifest(dir)?),
        None => (Vec::new(), None),
    };
    if let Some(dir) = &args.data {
        eprintln!(
            "validation lists for the table: {} from {}",
            examples.len(),
            dir.display()
        );
    }
    let run_name = ckpt_path
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    let text = CardText {
        display_name: args.display_name.clone(),
        quality: args.quality.clone(),
        // Empty strings are not written (`ModelCard::to_gguf_entries`).
        card_url: Some(args.card_url.clone()),
    };
    let card = model_card(
        &state,
        manifest.as_ref().map(|m| &m.protocol),
        &run_name,
        text,
    );

    let mut rows = Vec::new();
    let reference = if examples.is_empty() {
        None
    } else {
        // The unmerged adapter model on the stored base weights: what `alro eval --adapter` runs.
        let mut plain =
            Backbone::from_gguf_bytes(&bytes, &name, MatrixPrecision::AsStored, &Device::Cpu)?;
        checkpoint::attach_trained(&ckpt_path, &mut plain, &model_path)?;
        let prompt = card.prompt_config();
        let ranker = Ranker::new(plain, prompt)?;
        let s = scores_with_bar(&ranker, &examples, "adapter")?;
        rows.push(ExportRow::reference(bytes.len() as u64, &s, &examples));
        Some(s)
    };

    let out_dir = args
        .out_dir
        .clone()
        .unwrap_or_else(|| ckpt_path.parent().unwrap_or(Path::new(".")).to_path_buf());
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    for scheme in &schemes {
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| out_dir.join(format!("ranker.{}.gguf", scheme.slug())));
        let exported = export_gguf(&file, &bytes, &mut backbone.model, &card, *scheme)?;
        write_atomic(&out, &exported.bytes)?;
        eprintln!(
            "wrote {} ({:.1} MB; tensors: {})",
            out.display(),
            exported.bytes.len() as f64 / 1e6,
            type_counts(&exported.tensors)
        );
        let mut row = ExportRow::written(
            *scheme,
            out.display().to_string(),
            exported.bytes.len() as u64,
        );
        if let Some(reference) = &reference {
            let loaded = Backbone::from_gguf_bytes(
                &exported.bytes,
                &out.display().to_string(),
                MatrixPrecision::AsStored,
                &Device::Cpu,
            )?;
            let prompt = loaded.prompt_config();
            let ranker = Ranker::new(loaded, prompt)?;
            let s = scores_with_bar(&ranker, &examples, scheme.slug())?;
            row = row.scored(&s, &examples, reference);
        }
        rows.push(row);
    }
    print!("{}", markdown_table(&rows, examples.len()));
    let report = out_dir.join("export-report.json");
    write_atomic(&report, serde_json::to_string_pretty(&rows)?.as_bytes())?;
    eprintln!("table as JSON: {}", report.display());
    Ok(())
}
