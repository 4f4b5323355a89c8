//! Checkpoints: one safetensors file holding the adapters, optionally the AdamW moments, and the
//! run state as JSON in the header metadata (`alro.state`). Written atomically: a temporary file
//! in the same directory, synced, then renamed over the final name — a crash leaves either the
//! previous checkpoint or the new one, never half of one.

use super::config::TrainConfig;
use super::lora::Adapters;
use super::optim::AdamW;
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub const FORMAT: u32 = 1;
const STATE_KEY: &str = "alro.state";

/// Identifies the backbone a checkpoint was trained on, so a different one is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackboneId {
    pub name: String,
    /// SHA-256 of the model file (GGUF) or of config.json + shard names (HF directory).
    pub sha256: String,
    pub layers: usize,
    pub hidden: usize,
    pub vocab: usize,
}

impl BackboneId {
    /// The identity of the backbone at `path` (a GGUF file or a Hugging Face directory), loaded
    /// as `backbone`.
    pub fn of(path: &Path, backbone: &alro_core::model::Backbone) -> Result<BackboneId> {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        if path.is_dir() {
            let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(path)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .is_some_and(|x| x == "safetensors" || x == "json")
                })
                .collect();
            names.sort();
            for p in names {
                h.update(std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?);
            }
        } else {
            let mut f =
                std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
            std::io::copy(&mut f, &mut h)?;
        }
        let c = &backbone.model.config;
        Ok(BackboneId {
            name: backbone.info.name.clone(),
            sha256: format!("{:x}", h.finalize()),
            layers: c.num_layers,
            hidden: c.hidden_size,
            vocab: c.vocab_size,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Best {
    pub step: usize,
    pub ndcg10: f64,
}

/// Everything besides tensors needed to continue or to use a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub format: u32,
    /// Optimizer steps completed.
    pub step: usize,
    pub total_steps: usize,
    pub backbone: BackboneId,
    pub config: TrainConfig,
    /// SHA-256 of the training and validation files (or of the data manifest).
    pub data_sha256: String,
    pub best: Option<Best>,
    /// Random state: every stream is derived from (`config.run.seed`, step, example), so the
    /// step is all a resumed run needs to draw exactly what an uninterrupted run would.
    pub rng: String,
    /// Seconds of training so far (across resumes).
    pub seconds: f64,
}

fn f32_bytes(t: &Tensor) -> Result<(Vec<usize>, Vec<u8>)> {
    let t = t.to_dtype(DType::F32)?.to_device(&Device::Cpu)?;
    let data: Vec<u8> = t
        .flatten_all()?
        .to_vec1::<f32>()?
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    Ok((t.dims().to_vec(), data))
}

/// Writes `bytes` to `path` atomically (temp file in the same directory, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    f.commit()
}

/// A file written atomically as a stream: the bytes go through a buffer into a temporary file
/// beside `path` (`.NAME.tmp-PID`, which [`remove_stale_temporaries`] recognises), and
/// [`AtomicFile::commit`] flushes, fsyncs and renames it over `path`. Until then `path` keeps its
/// previous content (or stays absent); dropped without a commit — an error on the way — the
/// temporary file is removed. [`write_atomic`] is this for bytes held in memory.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    /// `None` once committed.
    file: Option<BufWriter<std::fs::File>>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> Result<AtomicFile> {
        let name = path
            .file_name()
            .with_context(|| format!("{} has no file name", path.display()))?;
        let tmp = parent_dir(path).join(format!(
            ".{}.tmp-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = std::fs::File::create(&tmp)
            .with_context(|| format!("creating a temporary file for {}", path.display()))?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            file: Some(BufWriter::new(file)),
        })
    }

    /// Flushes, fsyncs and renames the temporary file over the final name (then fsyncs the
    /// directory, so the rename itself is durable).
    pub fn commit(mut self) -> Result<()> {
        let writer = self.file.take().expect("an uncommitted file");
        let result = (|| -> std::io::Result<()> {
            let file = writer.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&self.tmp, &self.path)?;
            if let Ok(d) = std::fs::File::open(parent_dir(&self.path)) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        result.with_context(|| format!("writing {}", self.path.display()))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.as_mut().expect("an uncommitted file").write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.file
            .as_mut()
            .expect("an uncommitted file")
            .write_all(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().expect("an uncommitted file").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// The directory a file is written in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Removes temporary files that [`write_atomic`] left in `dir` when a process was killed between
/// creating and renaming them. They never sit under a final name, so they are garbage; a run
/// removes them when it starts or resumes so that kills do not accumulate them.
pub fn remove_stale_temporaries(dir: &Path) -> Result<()> {
    let ours = format!(".tmp-{}", std::process::id());
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(_) => return Ok(()),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_temporary = name.starts_with('.')
            && name
                .rsplit_once(".tmp-")
                .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()));
        if is_temporary && !name.ends_with(&ours) {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("removing stale {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Saves adapters (+ optimizer moments when given) and `state` to `path`.
pub fn save(path: &Path, adapters: &Adapters, optim: Option<&AdamW>, state: &State) -> Result<()> {
    let mut named: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (i, p) in adapters.params.iter().enumerate() {
        let (shape, data) = f32_bytes(p.var.as_tensor())?;
        named.push((p.name.clone(), shape, data));
        if let Some(o) = optim {
            let (shape, data) = f32_bytes(&o.m[i])?;
            named.push((format!("adamw.m.{}", p.name), shape, data));
            let (shape, data) = f32_bytes(&o.v[i])?;
            named.push((format!("adamw.v.{}", p.name), shape, data));
        }
    }
    let mut state = state.clone();
    if let Some(o) = optim {
        state.rng = format!("derived; adamw.t={}", o.t);
    }
    let views: Vec<(String, TensorView)> = named
        .iter()
        .map(|(n, shape, data)| Ok((n.clone(), TensorView::new(Dtype::F32, shape.clone(), data)?)))
        .collect::<Result<_>>()?;
    let meta = HashMap::from([(STATE_KEY.to_string(), serde_json::to_string(&state)?)]);
    let bytes = safetensors::serialize(views, Some(meta))?;
    write_atomic(path, &bytes)
}

/// Writes the adapters of the checkpoint `src` alone (no optimizer moments), in f16, with its run
/// state, to `dst`: the small file a release commits (`models/`). [`load`] reads it back as f32,
/// so `--init-adapter`, `alro eval --adapter` and `alro export` take it like any checkpoint.
/// Returns the number of adapter tensors written.
pub fn save_adapters_f16(src: &Path, dst: &Path) -> Result<usize> {
    let loaded = load(src, &Device::Cpu)?;
    let mut names: Vec<&String> = loaded
        .tensors
        .keys()
        .filter(|n| !n.starts_with("adamw."))
        .collect();
    names.sort();
    let mut named: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::with_capacity(names.len());
    for name in &names {
        let t = &loaded.tensors[*name];
        let data: Vec<u8> = t
            .flatten_all()?
            .to_vec1::<f32>()?
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect();
        named.push(((*name).clone(), t.dims().to_vec(), data));
    }
    let views: Vec<(String, TensorView)> = named
        .iter()
        .map(|(n, shape, data)| Ok((n.clone(), TensorView::new(Dtype::F16, shape.clone(), data)?)))
        .collect::<Result<_>>()?;
    let meta = HashMap::from([(STATE_KEY.to_string(), serde_json::to_string(&loaded.state)?)]);
    let bytes = safetensors::serialize(views, Some(meta))?;
    write_atomic(dst, &bytes)?;
    Ok(names.len())
}

/// A checkpoint read back: its tensors by name and its state.
pub struct Loaded {
    pub tensors: HashMap<String, Tensor>,
    pub state: State,
}

pub fn load(path: &Path, device: &Device) -> Result<Loaded> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading checkpoint {}", path.display()))?;
    let bad =
        |why: String| anyhow::anyhow!("{}: not a valid alro checkpoint: {why}", path.display());
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let (_, meta) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let state_json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(STATE_KEY))
        .ok_or_else(|| bad(format!("no `{STATE_KEY}` metadata")))?;
    let state: State = serde_json::from_str(state_json).map_err(|e| bad(e.to_string()))?;
    if state.format != FORMAT {
        return Err(bad(format!(
            "format {} (this build reads format {FORMAT})",
            state.format
        )));
    }
    let mut tensors = HashMap::new();
    for (name, view) in st.tensors() {
        // F32: what training writes; F16: a release adapter (`save_adapters_f16`), read back
        // in f32 as training and merging compute.
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F16 => view
                .data()
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            other => {
                return Err(bad(format!(
                    "tensor {name} is {other:?}, expected F32 (or F16 for a release adapter)"
                )))
            }
        };
        tensors.insert(name, Tensor::from_vec(values, view.shape(), device)?);
    }
    Ok(Loaded { tensors, state })
}

/// Refuses a checkpoint made for another backbone.
pub fn check_backbone(path: &Path, saved: &BackboneId, current: &BackboneId) -> Result<()> {
    if saved != current {
        bail!(
            "{} was trained on backbone {:?} (sha256 {}…, {} layers, hidden {}), but the loaded \
             backbone is {:?} (sha256 {}…, {} layers, hidden {}); pass the same --model",
            path.display(),
            saved.name,
            &saved.sha256[..saved.sha256.len().min(12)],
            saved.layers,
            saved.hidden,
            current.name,
            &current.sha256[..current.sha256.len().min(12)],
            current.layers,
            current.hidden
        );
    }
    Ok(())
}

/// Copies the checkpoint's adapter weights (and moments, when `optim` is given) into place.
pub fn restore(
    path: &Path,
    loaded: &Loaded,
    adapters: &Adapters,
    optim: Option<&mut AdamW>,
) -> Result<()> {
    let get = |name: &str, like: &Tensor| -> Result<Tensor> {
        let t = loaded
            .tensors
            .get(name)
            .with_context(|| format!("{}: missing tensor {name}", path.display()))?;
        if t.dims() != like.dims() {
            bail!(
                "{}: tensor {name} has shape {:?}, the adapter expects {:?}",
                path.display(),
                t.dims(),
                like.dims()
            );
        }
        Ok(t.clone())
    };
    for p in &adapters.params {
        p.var.set(&get(&p.name, p.var.as_tensor())?)?;
    }
    if let Some(o) = optim {
        for (i, p) in adapters.params.iter().enumerate() {
            o.m[i] = get(&format!("adamw.m.{}", p.name), p.var.as_tensor())?;
            o.v[i] = get(&format!("adamw.v.{}", p.name), p.var.as_tensor())?;
        }
        o.t = loaded.state.step as u64;
    }
    Ok(())
}

/// Attaches the adapters saved in the checkpoint at `path` to `backbone` (loaded from
/// `backbone_path`), after checking that the checkpoint was trained on this very backbone.
/// Returns the checkpoint's state (configuration, step, data hash).
pub fn attach_trained(
    path: &Path,
    backbone: &mut alro_core::model::Backbone,
    backbone_path: &Path,
) -> Result<State> {
    let loaded = load(path, &backbone.model.device)?;
    check_backbone(
        path,
        &loaded.state.backbone,
        &BackboneId::of(backbone_path, backbone)?,
    )?;
    let adapters = super::lora::attach(&mut backbone.model, &loaded.state.config.lora, 0)
        .with_context(|| format!("attaching the adapters of {}", path.display()))?;
    restore(path, &loaded, &adapters, None)?;
    Ok(loaded.state)
}

/// Copies the adapter weights of the checkpoint at `path` into freshly attached `adapters` (the
/// start of a curriculum's next stage), after checking that it was trained on `backbone` with
/// the same LoRA shape and scale as `lora`. Its optimizer moments are not used.
pub fn warm_start(
    path: &Path,
    adapters: &Adapters,
    lora: &super::config::LoraConfig,
    backbone: &BackboneId,
    device: &Device,
) -> Result<()> {
    let loaded = load(path, device).context("run.init_adapter")?;
    check_backbone(path, &loaded.state.backbone, backbone)?;
    let saved = &loaded.state.config.lora;
    // `last_layers` None and `Some(layers)` adapt the same blocks.
    let shape = |l: &super::config::LoraConfig| {
        let blocks = super::lora::adapted_layers(backbone.layers, l);
        (l.rank, l.alpha, l.targets.clone(), blocks)
    };
    if shape(saved) != shape(lora) {
        bail!(
            "run.init_adapter {}: its adapters are rank {}, alpha {}, targets {}, last_layers \
             {:?}, but this run's [lora] says rank {}, alpha {}, targets {}, last_layers {:?}; \
             copy the [lora] section of the run that wrote it",
            path.display(),
            saved.rank,
            saved.alpha,
            saved.target_names(),
            saved.last_layers,
            lora.rank,
            lora.alpha,
            lora.target_names(),
            lora.last_layers
        );
    }
    restore(path, &loaded, adapters, None)
}
