//! `alro train` end to end on a tiny model: a run killed (SIGKILL) in the middle and resumed
//! ends with exactly the adapters and metrics of an uninterrupted run; a resume against another
//! backbone is refused; no temporary files are left behind.

use alro_core::model::tiny::{tiny_llama_gguf, TinySpec};
use alro_tests::tiny_ranking_examples;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const STEPS: usize = 24;

fn workdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("alro-cli-train-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("data")).unwrap();
    d
}

fn write_inputs(dir: &Path) {
    let spec = TinySpec {
        hidden: 64,
        intermediate: 128,
        layers: 2,
        heads: 4,
        kv_heads: 2,
        ..TinySpec::default()
    };
    std::fs::write(dir.join("tiny.gguf"), tiny_llama_gguf(&spec).unwrap()).unwrap();
    let other = TinySpec { seed: 9, ..spec };
    std::fs::write(dir.join("other.gguf"), tiny_llama_gguf(&other).unwrap()).unwrap();
    let jsonl = |exs: &[alro_core::data::RankingExample]| {
        exs.iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect::<String>()
    };
    std::fs::write(
        dir.join("data/train.jsonl"),
        jsonl(&tiny_ranking_examples(6, 5, 1)),
    )
    .unwrap();
    std::fs::write(
        dir.join("data/validation.jsonl"),
        jsonl(&tiny_ranking_examples(2, 5, 2)),
    )
    .unwrap();
    std::fs::write(
        dir.join("train.toml"),
        format!(
            "preset = \"alro\"\n[lora]\nrank = 4\ndropout = 0.1\n[optim]\nlr = 3e-3\naccumulation = 2\n\
             [run]\nepochs = 20\nmax_steps = {STEPS}\nvalidate_every = 5\ncheckpoint_every = 1\n"
        ),
    )
    .unwrap();
}

fn train(dir: &Path, out: &str, model: &str, resume: bool) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_alro"));
    c.current_dir(dir).args([
        "train",
        "--model",
        model,
        "--data",
        "data",
        "--config",
        "train.toml",
        "--out",
        out,
        "--quiet",
    ]);
    if resume {
        c.arg("--resume");
    }
    c
}

fn train_lines(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The adapter and optimizer tensors of a checkpoint, by name, as raw bytes.
fn tensors(path: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut v: Vec<(String, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.data().to_vec()))
        .collect();
    v.sort();
    v
}

#[test]
fn a_killed_run_resumes_to_the_same_result() {
    let dir = workdir();
    write_inputs(&dir);

    let status = train(&dir, "full", "tiny.gguf", false).status().unwrap();
    assert!(status.success());

    // Kill the second run after a few checkpointed steps, mid-training.
    let mut child = train(&dir, "killed", "tiny.gguf", false)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let run = dir.join("killed");
    let start = Instant::now();
    loop {
        let steps = train_lines(&run)
            .iter()
            .filter(|l| l["kind"] == "train")
            .count();
        if steps >= 7 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "run ended before it could be killed"
        );
        assert!(start.elapsed() < Duration::from_secs(300), "run too slow");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let killed_at = train_lines(&run).len();
    assert!(!run.join("summary.json").exists(), "killed before the end");

    // Resuming against another backbone is refused and changes nothing.
    let out = train(&dir, "killed", "other.gguf", true).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("was trained on backbone"), "{err}");
    assert_eq!(train_lines(&run).len(), killed_at);

    // A kill between creating and renaming a checkpoint leaves a temporary file (never under the
    // final name); plant one so the test does not depend on where the kill landed.
    std::fs::write(run.join(".last.safetensors.tmp-999999"), b"half a checkpoint").unwrap();
    let out = train(&dir, "killed", "tiny.gguf", true).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let full = dir.join("full");
    assert_eq!(
        tensors(&run.join("last.safetensors")),
        tensors(&full.join("last.safetensors")),
        "adapters and optimizer state after resume differ from the uninterrupted run"
    );
    assert_eq!(
        tensors(&run.join("best.safetensors")),
        tensors(&full.join("best.safetensors"))
    );
    // Same metrics, step by step (timings aside).
    let strip = |lines: Vec<serde_json::Value>| -> Vec<String> {
        lines
            .into_iter()
            .map(|mut l| {
                let o = l.as_object_mut().unwrap();
                for k in [
                    "examples_per_s",
                    "tokens_per_s",
                    "target_tokens_per_s",
                    "seconds",
                ] {
                    o.remove(k);
                }
                l.to_string()
            })
            .collect()
    };
    let (a, b) = (strip(train_lines(&run)), strip(train_lines(&full)));
    assert_eq!(a.len(), STEPS + STEPS / 5 + 1);
    assert_eq!(a, b);
    // Atomic writes leave no temporary files, and resuming clears those a kill left behind.
    for d in [&run, &full] {
        for e in std::fs::read_dir(d).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.contains(".tmp"), "leftover {name}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
