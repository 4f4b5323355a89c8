//! The `alro data` and `alro eval` commands end to end, through the real binary. Tests that
//! need MovieLens 100K read it from `../shared/data` beside the workspace and are skipped with a
//! notice when it is absent (it may not be redistributed, so it is never in the repository).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn ml100k() -> Option<PathBuf> {
    let p = root().join("../shared/data/ml-100k");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("notice: {} is absent; skipping", p.display());
        None
    }
}

fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures/data").join(rel)
}

fn alro(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alro"))
        .args(args)
        .output()
        .expect("run alro")
}

fn ok(args: &[&str]) -> String {
    let out = alro(args);
    assert!(
        out.status.success(),
        "alro {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(args)).unwrap()
}

#[test]
fn stats_ml100k_counts() {
    let Some(dir) = ml100k() else { return };
    let dir = dir.to_str().unwrap();
    let v = json(&[
        "data",
        "stats",
        "--dataset",
        "ml-100k",
        "--path",
        dir,
        "--json",
    ]);
    assert_eq!(v["stats"]["ratings"], 100_000);
    assert_eq!(v["stats"]["users"], 943);
    assert_eq!(v["stats"]["items"], 1_682);
    assert_eq!(v["examples"]["test"], 943);
    let text = ok(&["data", "stats", "--dataset", "ml-100k", "--path", dir]);
    for line in [
        "users          943",
        "items          1682 rated",
        "ratings        100000",
    ] {
        assert!(text.contains(line), "{text}");
    }
}

#[test]
fn prepare_is_byte_identical_and_manifest_records_inputs() {
    let Some(dir) = ml100k() else { return };
    let tmp = std::env::temp_dir().join(format!("alro-prepare-{}", std::process::id()));
    let (a, b) = (tmp.join("a"), tmp.join("b"));
    for out in [&a, &b] {
        ok(&[
            "data",
            "prepare",
            "--dataset",
            "ml-100k",
            "--path",
            dir.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
    }
    for f in [
        "train.jsonl",
        "validation.jsonl",
        "test.jsonl",
        "manifest.json",
    ] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs between runs"
        );
    }
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["format"], "alro-examples/1");
    assert_eq!(
        m["inputs"][0]["sha256"],
        "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"
    );
    assert_eq!(m["protocol"]["history_len"], 10);
    assert_eq!(m["examples"]["test"], 943);
    // The same digest as the library-level pin in tests/data_protocol.rs.
    assert_eq!(m["outputs"][2]["file"], "test.jsonl");
    assert_eq!(
        m["outputs"][2]["sha256"],
        "9c0cb2849fdb4111db8f69da756c4a8f26f9a5c32fc2589b8ce03bae3f23c013"
    );
    // Each line converts to a ranking request.
    let first = std::fs::read_to_string(a.join("test.jsonl")).unwrap();
    let ex: alro_core::data::RankingExample =
        serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(ex.request().candidates.len(), 20);
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn eval_json_has_the_documented_shape() {
    let Some(dir) = ml100k() else { return };
    let v = json(&[
        "eval",
        "--baseline",
        "popularity",
        "--dataset",
        "ml-100k",
        "--path",
        dir.to_str().unwrap(),
        "--json",
    ]);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec!["ndcg@1", "ndcg@5", "ndcg@10", "ndcg@20", "lists"];
    want.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, want);
    assert_eq!(v["lists"], 943);
    let p = v["ndcg@10"].as_f64().unwrap();
    // Random is the analytic expectation; popularity must beat it clearly.
    let r = json(&[
        "eval",
        "--baseline",
        "random",
        "--dataset",
        "ml-100k",
        "--path",
        dir.to_str().unwrap(),
        "--json",
    ]);
    assert!(p > r["ndcg@10"].as_f64().unwrap() + 0.1, "{p} vs {r}");
    let md = ok(&[
        "eval",
        "--baseline",
        "random,popularity",
        "--dataset",
        "ml-100k",
        "--path",
        dir.to_str().unwrap(),
        "--markdown",
    ]);
    assert!(
        md.contains("| ranker | NDCG@1 | NDCG@5 | NDCG@10 | NDCG@20 |"),
        "{md}"
    );
}

#[test]
fn embedded_default_dataset() {
    let v = json(&["data", "stats", "--json"]);
    assert_eq!(v["stats"]["dataset"], "ml-latest-small");
    assert_eq!(v["stats"]["ratings"], 100_836);
    assert_eq!(v["stats"]["users"], 610);
    assert_eq!(
        v["inputs"][0]["file"],
        "embedded:ml-latest-small/ratings.csv.xz"
    );
}

#[test]
fn malformed_lines_fail_with_file_and_line_or_are_skipped() {
    let dir = fixture("ml-100k-bad");
    let dir = dir.to_str().unwrap();
    let out = alro(&["data", "stats", "--dataset", "ml-100k", "--path", dir]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ml-100k-bad/u.data:3: expected 4 fields"),
        "{err}"
    );
    let out = alro(&[
        "data",
        "stats",
        "--dataset",
        "ml-100k",
        "--path",
        dir,
        "--skip-bad-lines",
        "--json",
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped 4 malformed line(s)"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["load_report"]["skipped_lines"], 4);
    assert_eq!(v["stats"]["ratings"], 3);
}

#[test]
fn other_formats_through_the_cli() {
    // ML-1M format, xz-compressed ratings, detected without --dataset.
    let v = json(&[
        "data",
        "stats",
        "--path",
        fixture("ml-1m-tiny").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        (
            v["stats"]["dataset"].as_str(),
            v["stats"]["ratings"].as_u64()
        ),
        (Some("ml-1m"), Some(3))
    );
    // Amazon 2018: a folder with reviews + meta_*; the review without metadata is skipped.
    let v = json(&[
        "data",
        "stats",
        "--dataset",
        "amazon-2018",
        "--path",
        fixture("amazon-2018").to_str().unwrap(),
        "--skip-bad-lines",
        "--json",
    ]);
    assert_eq!(v["stats"]["ratings"], 4);
    // Amazon 2014: the reviews file itself.
    let v = json(&[
        "data",
        "stats",
        "--dataset",
        "amazon-2014",
        "--path",
        fixture("amazon-2014/reviews_Digital_Music_5.json")
            .to_str()
            .unwrap(),
        "--json",
    ]);
    assert_eq!(v["stats"]["ratings"], 7);
    assert_eq!(v["load_report"]["duplicates_removed"], 1);
}

#[test]
fn missing_path_is_explained() {
    let out = alro(&["data", "stats", "--dataset", "ml-100k"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--dataset ml-100k needs --path"));
}

#[test]
fn popularity_notes_add_only_notes_and_bad_tier_counts_are_refused() {
    let Some(dir) = ml100k() else { return };
    let tmp = std::env::temp_dir().join(format!("alro-notes-{}", std::process::id()));
    let (plain, noted) = (tmp.join("plain"), tmp.join("noted"));
    let prepare = |out: &Path, extra: &[&str]| {
        let mut args = vec!["data", "prepare", "--dataset", "ml-100k"];
        args.extend([
            "--path",
            dir.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        args.extend(["--history-len", "5", "--candidates", "10"]);
        args.extend(extra);
        ok(&args);
    };
    prepare(&plain, &[]);
    prepare(&noted, &["--popularity-tiers", "7"]);
    let lines = |d: &Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(d.join("test.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (a, b) = (lines(&plain), lines(&noted));
    assert_eq!(a.len(), b.len());
    let mut tiers = std::collections::BTreeSet::new();
    for (x, y) in a.into_iter().zip(b) {
        for c in y["candidates"].as_array().unwrap() {
            let note = c["note"].as_str().expect("every candidate has a note");
            let (t, n) = note
                .strip_prefix("popularity ")
                .unwrap()
                .split_once('/')
                .unwrap();
            assert_eq!(n, "7");
            tiers.insert(t.parse::<u32>().unwrap());
        }
        // Without the notes, the lists are the same lists.
        let mut y = y;
        for c in y["candidates"].as_array_mut().unwrap() {
            c.as_object_mut().unwrap().remove("note");
        }
        assert!(x["candidates"][0].get("note").is_none());
        assert_eq!(x, y);
    }
    assert_eq!(
        tiers,
        (1..=7).collect(),
        "ML-100K test lists use every tier"
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(noted.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["protocol"]["popularity_tiers"], 7);

    let out = alro(&[
        "data",
        "prepare",
        "--dataset",
        "ml-100k",
        "--path",
        dir.to_str().unwrap(),
        "--popularity-tiers",
        "17",
        "--out",
        tmp.join("bad").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("popularity_tiers = 17 (at most 16"));
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn similarity_notes_follow_popularity_notes_and_bad_tier_counts_are_refused() {
    let Some(dir) = ml100k() else { return };
    let tmp = std::env::temp_dir().join(format!("alro-similar-{}", std::process::id()));
    let prepare = |name: &str, extra: &[&str]| -> std::process::Output {
        let out = tmp.join(name);
        let mut args = vec!["data", "prepare", "--dataset", "ml-100k", "--path"];
        args.extend([dir.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        args.extend([
            "--history-len",
            "5",
            "--candidates",
            "3",
            "--positives",
            "1",
        ]);
        args.extend(extra);
        alro(&args)
    };
    assert!(prepare("pop", &["--popularity-tiers", "7"])
        .status
        .success());
    let both = ["--popularity-tiers", "7", "--similarity-tiers", "7"];
    assert!(prepare("both", &both).status.success());
    let notes = |name: &str| -> Vec<String> {
        std::fs::read_to_string(tmp.join(name).join("test.jsonl"))
            .unwrap()
            .lines()
            .flat_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let cands = v["candidates"].as_array().unwrap().clone();
                cands
                    .into_iter()
                    .map(|c| c["note"].as_str().unwrap().to_string())
            })
            .collect()
    };
    let (pop, both_notes) = (notes("pop"), notes("both"));
    assert_eq!(pop.len(), both_notes.len());
    let mut tiers = std::collections::BTreeSet::new();
    for (p, b) in pop.iter().zip(&both_notes) {
        let rest = b.strip_prefix(&format!("{p}, similarity ")).expect(b);
        let (t, n) = rest.split_once('/').unwrap();
        assert_eq!(n, "7");
        tiers.insert(t.parse::<u32>().unwrap());
    }
    assert!(
        tiers.len() >= 5,
        "ML-100K test lists spread over the tiers: {tiers:?}"
    );
    assert!(tiers.iter().all(|t| (1..=7).contains(t)));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.join("both").join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["protocol"]["similarity_tiers"], 7);

    let out = prepare("bad", &["--similarity-tiers", "12"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("similarity_tiers = 12 (at most 11"));
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn popular_negatives_are_recorded_and_bad_values_are_refused() {
    // Refused by the argument parser, before any data is read, naming the choices.
    for cmd in [
        &["data", "prepare", "--out", "/nonexistent"][..],
        &["eval", "--baseline", "random"],
    ] {
        let mut args = cmd.to_vec();
        args.extend(["--negatives", "zipf"]);
        let out = alro(&args);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("invalid value 'zipf' for '--negatives <HOW>'")
                && err.contains("[possible values: uniform, popular]"),
            "{err}"
        );
    }

    let Some(dir) = ml100k() else { return };
    let tmp = std::env::temp_dir().join(format!("alro-negatives-{}", std::process::id()));
    let prepare = |name: &str, negatives: &str| -> PathBuf {
        let out = tmp.join(name);
        ok(&[
            "data",
            "prepare",
            "--dataset",
            "ml-100k",
            "--path",
            dir.to_str().unwrap(),
            "--negatives",
            negatives,
            "--out",
            out.to_str().unwrap(),
        ]);
        out
    };
    let (uniform, popular) = (prepare("uniform", "uniform"), prepare("popular", "popular"));
    let manifest = |d: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap()
    };
    let (mu, mp) = (manifest(&uniform), manifest(&popular));
    assert_eq!(mu["protocol"]["negatives"], "uniform");
    assert_eq!(mp["protocol"]["negatives"], "popular");
    // `--negatives uniform` is the default: the pinned test lists.
    assert_eq!(
        mu["outputs"][2]["sha256"],
        "9c0cb2849fdb4111db8f69da756c4a8f26f9a5c32fc2589b8ce03bae3f23c013"
    );
    assert_eq!(mp["examples"]["test"], 943);

    // Rating counts over the whole dataset, by item id.
    let mut count: std::collections::HashMap<String, usize> = Default::default();
    for line in std::fs::read_to_string(dir.join("u.data")).unwrap().lines() {
        *count
            .entry(line.split('\t').nth(1).unwrap().to_string())
            .or_default() += 1;
    }
    let lists = |d: &Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(d.join("test.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    // Same windows and positives; negatives rated far more often on average.
    let mean_negative_count = |ls: &[serde_json::Value]| {
        let (mut sum, mut n) = (0usize, 0usize);
        for l in ls {
            for (c, r) in l["candidates"]
                .as_array()
                .unwrap()
                .iter()
                .zip(l["relevance"].as_array().unwrap())
            {
                if r.as_f64().unwrap() == 0.0 {
                    sum += count[c["id"].as_str().unwrap()];
                    n += 1;
                }
            }
        }
        sum as f64 / n as f64
    };
    let (lu, lp) = (lists(&uniform), lists(&popular));
    assert_eq!(lu.len(), lp.len());
    for (a, b) in lu.iter().zip(&lp) {
        assert_eq!(
            (&a["user"], &a["history_items"]),
            (&b["user"], &b["history_items"])
        );
        let positives = |l: &serde_json::Value| {
            let mut p: Vec<String> = l["candidates"]
                .as_array()
                .unwrap()
                .iter()
                .zip(l["relevance"].as_array().unwrap())
                .filter(|(_, r)| r.as_f64().unwrap() > 0.0)
                .map(|(c, _)| c["id"].as_str().unwrap().to_string())
                .collect();
            p.sort();
            p
        };
        assert_eq!(positives(a), positives(b));
    }
    let (nu, np) = (mean_negative_count(&lu), mean_negative_count(&lp));
    assert!(
        np > 2.0 * nu,
        "mean rating count of negatives: uniform {nu:.1}, popular {np:.1}"
    );

    // `alro eval` draws its lists the same way and says so.
    let text = ok(&[
        "eval",
        "--baseline",
        "popularity",
        "--dataset",
        "ml-100k",
        "--path",
        dir.to_str().unwrap(),
        "--negatives",
        "popular",
        "--limit",
        "50",
    ]);
    assert!(text.contains("seed 2024, popular negatives)"), "{text}");
    let _ = std::fs::remove_dir_all(&tmp);
}
