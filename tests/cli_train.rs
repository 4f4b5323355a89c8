//! `alro train` end to end on a tiny model: a run killed (SIGKILL) in the middle and resumed
//! ends with exactly the adapters and metrics of an uninterrupted run; a resume against another
//! backbone is refused; no temporary files are left behind; `--init-adapter` starts from an
//! earlier run and refuses a foreign or missing checkpoint.

use alro_core::model::tiny::{tiny_llama_gguf, TinySpec};
use alro_tests::tiny_ranking_examples;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const STEPS: usize = 24;

fn workdir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("alro-cli-train-{test}-{}", std::process::id()));
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
    let dir = workdir("kill");
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

/// Every file a run has under its final name is whole: checkpoints parse as safetensors with
/// their metadata, metrics are complete JSON lines, the config parses.
fn assert_whole_files(run: &Path, trial: usize) {
    for name in ["last.safetensors", "best.safetensors"] {
        let p = run.join(name);
        if p.exists() {
            let bytes = std::fs::read(&p).unwrap();
            safetensors::SafeTensors::deserialize(&bytes)
                .unwrap_or_else(|e| panic!("trial {trial}: {name} is not whole: {e}"));
        }
    }
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap_or_default();
    assert!(
        metrics.is_empty() || metrics.ends_with('\n'),
        "trial {trial}: metrics.jsonl ends mid-line"
    );
    for l in metrics.lines() {
        serde_json::from_str::<serde_json::Value>(l)
            .unwrap_or_else(|e| panic!("trial {trial}: bad metrics line {l:?}: {e}"));
    }
}

/// The crash-safety loop: 20 SIGKILLs at seeded random moments (start-up included), each
/// followed by `--resume`, end with exactly the uninterrupted run's adapters and optimizer state
/// (all runs on one thread: also the bit-reproducibility check).
#[test]
fn twenty_random_kills_then_resume_give_the_uninterrupted_result() {
    const KILLS: usize = 20;
    let dir = workdir("loop");
    write_inputs(&dir);

    // One thread everywhere: the guarantee is bit-reproducible CPU training with one thread
    // (the other test runs with the default thread count).
    let one_thread = |mut c: Command| {
        c.env("RAYON_NUM_THREADS", "1");
        c
    };
    let started = Instant::now();
    assert!(one_thread(train(&dir, "full", "tiny.gguf", false)).status().unwrap().success());
    let full_ms = started.elapsed().as_millis() as u64;

    // Delays up to a tenth of a whole run: most kills land mid-training, some during start-up,
    // and the run cannot finish before all 20 have happened (each attempt also pays start-up).
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next_delay = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        Duration::from_millis((state >> 33) % (full_ms / 10).max(20))
    };
    let run = dir.join("looped");
    let mut kills = 0;
    let mut attempts = 0;
    let mut steps_seen = Vec::new();
    while kills < KILLS {
        attempts += 1;
        assert!(attempts < 200, "run kept finishing before it could be killed");
        let mut child = one_thread(train(&dir, "looped", "tiny.gguf", true))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(next_delay());
        if child.try_wait().unwrap().is_some() {
            // Finished before the kill: start the loop's run over (keeps 20 real kills).
            let _ = std::fs::remove_dir_all(&run);
            continue;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        assert_whole_files(&run, kills);
        steps_seen.push(train_lines(&run).iter().filter(|l| l["kind"] == "train").count());
    }
    let out = one_thread(train(&dir, "looped", "tiny.gguf", true)).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("{KILLS} kills ({attempts} attempts); train steps on disk after each: {steps_seen:?}");
    assert!(
        steps_seen.iter().any(|&s| s > 0),
        "no kill landed after a training step: the loop tested start-up only"
    );

    let full = dir.join("full");
    for name in ["last.safetensors", "best.safetensors"] {
        assert_eq!(
            tensors(&run.join(name)),
            tensors(&full.join(name)),
            "{name} after {KILLS} kills differs from the uninterrupted run"
        );
    }
    for e in std::fs::read_dir(&run).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".tmp"), "leftover {name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn init_adapter_starts_from_an_earlier_run_and_refuses_a_foreign_or_missing_one() {
    let dir = workdir("init");
    write_inputs(&dir);
    let first = train(&dir, "first", "tiny.gguf", false)
        .args(["--max-steps", "3"])
        .output()
        .unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );

    let second = train(&dir, "second", "tiny.gguf", false)
        .args([
            "--max-steps",
            "2",
            "--init-adapter",
            "first/last.safetensors",
        ])
        .output()
        .unwrap();
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let config = std::fs::read_to_string(dir.join("second/config.toml")).unwrap();
    assert!(
        config.contains("init_adapter = \"first/last.safetensors\""),
        "{config}"
    );

    let refused = |model: &str, init: &str, out: &str| {
        let o = train(&dir, out, model, false)
            .args(["--init-adapter", init])
            .output()
            .unwrap();
        assert!(!o.status.success());
        assert!(!dir.join(out).join("last.safetensors").exists());
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let foreign = refused("other.gguf", "first/last.safetensors", "foreign");
    assert!(foreign.contains("was trained on backbone"), "{foreign}");
    let missing = refused("tiny.gguf", "nope/last.safetensors", "missing");
    assert!(missing.contains("nope/last.safetensors"), "{missing}");
    let _ = std::fs::remove_dir_all(dir);
}
