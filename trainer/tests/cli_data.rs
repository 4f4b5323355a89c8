//! The `alro data` and `alro eval` commands end to end, through the real binary. Tests that
//! need MovieLens 100K read it from `../shared/data` beside the workspace and are skipped with a
//! notice when it is absent (it may not be redistributed, so it is never in the repository).

use alro_tests::tiny_model_with_similarity_notes;
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
    // Tenths, the default, go unwritten: manifests read and compare as before the key existed.
    assert!(m["protocol"].get("similarity_steps").is_none());

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

/// A tiny MovieLens-100K-format dataset: 8 users each rate 7 of 12 films ("Film I (1980+I)"),
/// one rating per time step. With `TINY` (L = 3, m = 3, P = 1) every user has one test list:
/// the last rating and 2 of the 5 films the user never rated. User 1's rated candidate has
/// rating 3, user 2's rating 4.
fn tiny_dataset(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alro-tiny-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let zeros = vec!["0"; 19].join("|");
    let items: String = (1..=12)
        .map(|i| {
            format!(
                "{i}|Film {i} ({})|01-Jan-{}||http://x|{zeros}\n",
                1980 + i,
                1980 + i
            )
        })
        .collect();
    let mut ratings = String::new();
    for u in 1..=8 {
        for j in 0..7 {
            let item = (u * 3 + j * 5) % 12 + 1;
            let r = 1 + (u + j) % 5;
            ratings.push_str(&format!("{u}\t{item}\t{r}\t{}\n", 1000 * u + j));
        }
    }
    std::fs::write(dir.join("u.item"), items).unwrap();
    std::fs::write(dir.join("u.data"), ratings).unwrap();
    dir
}

const TINY: [&str; 6] = [
    "--history-len",
    "3",
    "--candidates",
    "3",
    "--positives",
    "1",
];

/// `alro eval` on the tiny dataset with `TINY` and `extra`.
fn eval_tiny(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "eval",
        "--dataset",
        "ml-100k",
        "--path",
        dir.to_str().unwrap(),
    ];
    args.extend(TINY);
    args.extend(extra);
    alro(&args)
}

fn stdout_of(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The test lists `alro data prepare` writes for the tiny dataset with `TINY` and `extra`, the
/// same lists `alro eval` scores.
fn tiny_lists(dir: &Path, extra: &[&str]) -> Vec<alro_core::data::RankingExample> {
    let out = dir.join("prepared");
    let mut args = vec!["data", "prepare", "--dataset", "ml-100k"];
    args.extend([
        "--path",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    args.extend(TINY);
    args.extend(extra);
    ok(&args);
    std::fs::read_to_string(out.join("test.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// NDCG@10 of `relevance` ranked by `scores`, ties broken every possible way and averaged: the
/// definition of "ties in expectation", computed by brute force over all orders (3 candidates).
fn brute_force_ndcg(relevance: &[f32], scores: &[f64]) -> f64 {
    fn perms(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![vec![]];
        }
        let mut out = Vec::new();
        for p in perms(n - 1) {
            for at in 0..=p.len() {
                let mut q = p.clone();
                q.insert(at, n - 1);
                out.push(q);
            }
        }
        out
    }
    let dcg = |order: &[usize]| -> f64 {
        order
            .iter()
            .take(10)
            .enumerate()
            .map(|(i, &c)| (2f64.powf(relevance[c] as f64) - 1.0) / ((i + 2) as f64).log2())
            .sum()
    };
    let mut ideal: Vec<usize> = (0..relevance.len()).collect();
    ideal.sort_by(|&a, &b| relevance[b].total_cmp(&relevance[a]));
    let consistent: Vec<Vec<usize>> = perms(relevance.len())
        .into_iter()
        .filter(|p| p.windows(2).all(|w| scores[w[0]] >= scores[w[1]]))
        .collect();
    consistent.iter().map(|p| dcg(p)).sum::<f64>() / consistent.len() as f64 / dcg(&ideal)
}

#[test]
fn versus_lines_json_and_per_list_file() {
    let dir = tiny_dataset("versus");
    let per_list = dir.join("per-list.jsonl");
    let text = stdout_of(&eval_tiny(
        &dir,
        &[
            "--baseline",
            "random,popularity,item-mean",
            "--per-list",
            per_list.to_str().unwrap(),
        ],
    ));
    // By default every other ranker against popularity: a mean, an interval and a verdict.
    for ranker in ["random", "item-mean"] {
        let line = text
            .lines()
            .find(|l| l.starts_with(ranker) && l.contains("Δ NDCG@10 vs popularity: "))
            .unwrap_or_else(|| panic!("no Δ line for {ranker}: {text}"));
        let rest = line.split("vs popularity: ").nth(1).unwrap();
        let (mean, rest) = rest.split_once(" [").unwrap();
        let (interval, rest) = rest.split_once("] ").unwrap();
        let (lo, hi) = interval.split_once(", ").unwrap();
        let (mean, lo, hi): (f64, f64, f64) = (
            mean.parse().unwrap(),
            lo.parse().unwrap(),
            hi.parse().unwrap(),
        );
        assert!(lo <= mean && mean <= hi, "{line}");
        let verdict = rest.split(' ').next().unwrap();
        assert!(["above", "below", "level"].contains(&verdict), "{line}");
        assert!(
            rest.ends_with("(8 lists, 1000 paired-bootstrap resamples)"),
            "{line}"
        );
    }
    assert!(!text.contains("popularity  Δ"), "{text}");
    // One line per list, every ranker's value, the same mean as the table.
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&per_list)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 8);
    assert_eq!(lines[0]["user"], "1");
    let names: Vec<&str> = lines[0]["ndcg@10"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(names.len(), 3);

    // --json: each line but popularity's carries "versus"; explicit, comma-separated --versus.
    let out = eval_tiny(
        &dir,
        &[
            "--baseline",
            "random,popularity,item-mean",
            "--versus",
            "popularity,random",
            "--json",
        ],
    );
    let rankers: Vec<serde_json::Value> = stdout_of(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rankers.len(), 3);
    for r in &rankers {
        let v = &r["versus"];
        let name = r["ranker"].as_str().unwrap();
        let mean_of = |n: &str| {
            lines
                .iter()
                .map(|l| l["ndcg@10"][n].as_f64().unwrap())
                .sum::<f64>()
                / 8.0
        };
        assert!((r["ndcg@10"].as_f64().unwrap() - mean_of(name)).abs() < 1e-12);
        match name {
            "popularity" => assert!(r.get("versus").is_none(), "{r}"),
            "random" => {
                // random vs popularity is there; popularity vs random would repeat it.
                let d = &v["popularity"];
                let want = mean_of("random") - mean_of("popularity");
                assert!((d["mean"].as_f64().unwrap() - want).abs() < 1e-12, "{r}");
                assert!(d["lo"].as_f64().unwrap() <= d["hi"].as_f64().unwrap());
                assert!(d["verdict"].is_string());
            }
            _ => {
                assert!(v["popularity"]["verdict"].is_string(), "{r}");
                assert!(v["random"]["verdict"].is_string(), "{r}");
            }
        }
    }
    // --markdown: the comparisons as a second table.
    let md = stdout_of(&eval_tiny(
        &dir,
        &["--baseline", "random,popularity", "--markdown"],
    ));
    assert!(
        md.contains("| ranker | vs | Δ NDCG@10 | 95% interval | verdict | lists |")
            && md.contains("| random | popularity | "),
        "{md}"
    );
    // A --versus that names no evaluated ranker is refused.
    let out = eval_tiny(&dir, &["--baseline", "random", "--versus", "mf"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--versus mf: no such ranker"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn notes_baseline_equals_a_hand_computation_and_needs_notes() {
    let dir = tiny_dataset("notes");
    let notes = ["--popularity-tiers", "4", "--similarity-tiers", "7"];
    let lists = tiny_lists(&dir, &notes);
    assert_eq!(lists.len(), 8);
    let per_list = dir.join("per-list.jsonl");
    let mut args = vec!["--baseline", "notes", "--json", "--per-list"];
    args.push(per_list.to_str().unwrap());
    args.extend(notes);
    let rows: Vec<serde_json::Value> = stdout_of(&eval_tiny(&dir, &args))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r["ranker"].as_str().unwrap()).collect();
    assert_eq!(names, ["note:popularity", "note:similarity"]);
    let per: Vec<serde_json::Value> = std::fs::read_to_string(&per_list)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (row, kind) in rows.iter().zip(["popularity", "similarity"]) {
        let mut sum = 0.0;
        for (ex, line) in lists.iter().zip(&per) {
            assert_eq!(line["user"].as_str(), Some(ex.user.as_str()));
            // The tier written in each candidate's note, read here by hand.
            let tiers: Vec<f64> = ex
                .candidates
                .iter()
                .map(|c| {
                    let note = c.note.as_deref().unwrap();
                    let part = note
                        .split(", ")
                        .find(|p| p.starts_with(kind))
                        .unwrap_or_else(|| panic!("{note}"));
                    part[kind.len() + 1..]
                        .split('/')
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap()
                })
                .collect();
            let want = brute_force_ndcg(&ex.relevance, &tiers);
            let got = line["ndcg@10"][format!("note:{kind}")].as_f64().unwrap();
            assert!(
                (got - want).abs() < 1e-12,
                "{kind} {}: {got} vs {want}",
                ex.user
            );
            sum += want;
        }
        let mean = row["ndcg@10"].as_f64().unwrap();
        assert!((mean - sum / 8.0).abs() < 1e-12, "{row}");
        assert!((0.0..=1.0).contains(&mean));
    }
    // `all` adds the note rows only when the lists carry notes.
    let all = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["--baseline", "all", "--json", "--epochs", "1"];
        args.extend(extra);
        stdout_of(&eval_tiny(&dir, &args))
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["ranker"].as_str().unwrap().to_string()
            })
            .collect()
    };
    assert!(all(&["--similarity-tiers", "7"]).contains(&"note:similarity".to_string()));
    assert!(!all(&[]).iter().any(|n| n.starts_with("note:")));
    // Without notes on the lists: refused, naming the flags that add them.
    let out = eval_tiny(&dir, &["--baseline", "popularity,notes"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--similarity-tiers") && err.contains("--popularity-tiers"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// One `--show` list: (user, [(mark, title)], NDCG line).
type Shown = (String, Vec<(char, String)>, String);

/// The `--show` lists of `text`.
fn shown(text: &str) -> Vec<Shown> {
    let mut out: Vec<Shown> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("user ") {
            out.push((
                rest.split(' ').next().unwrap().into(),
                vec![],
                String::new(),
            ));
        } else if let Some(ndcg) = line.strip_prefix("  NDCG@10: ") {
            out.last_mut().unwrap().2 = ndcg.into();
        } else if let Some((n, rest)) = line.trim_start().split_once(". ") {
            if n.parse::<usize>().is_ok() && !out.is_empty() {
                let mut chars = rest.chars();
                let mark = chars.next().unwrap();
                let title = chars.as_str().trim_start();
                let title = title.split(" (popularity").next().unwrap();
                let title = title.split(" (similarity").next().unwrap();
                out.last_mut().unwrap().1.push((mark, title.to_string()));
            }
        }
    }
    out
}

#[test]
fn show_prints_readable_lists_with_marks() {
    let dir = tiny_dataset("show");
    let lists = tiny_lists(&dir, &["--similarity-tiers", "7"]);
    let text = stdout_of(&eval_tiny(
        &dir,
        &[
            "--baseline",
            "popularity,notes",
            "--similarity-tiers",
            "7",
            "--show",
            "2",
        ],
    ));
    let shows = shown(&text);
    assert_eq!(shows.len(), 2, "{text}");
    let mut marks = String::new();
    for ((user, rows, ndcg), ex) in shows.iter().zip(&lists) {
        assert_eq!(user, &ex.user);
        assert_eq!(rows.len(), 3, "{text}");
        for (mark, title) in rows {
            let c = ex
                .candidates
                .iter()
                .position(|c| &c.title == title)
                .expect(title);
            let want = match ex.relevance[c] {
                r if r >= 4.0 => '★',
                r if r > 0.0 => '☆',
                _ => ' ',
            };
            assert_eq!(*mark, want, "{title} in {text}");
            marks.push(*mark);
        }
        assert!(
            ndcg.starts_with("popularity 0.") && ndcg.contains(" · note:similarity "),
            "{ndcg}"
        );
    }
    // User 1 rated its candidate 3, user 2 rated its 4.
    assert!(marks.contains('★') && marks.contains('☆'), "{text}");
    // The history's last 3 films with their ratings, then the table after the lists.
    let h = &lists[0].history;
    let last = &h[h.len() - 1];
    assert!(
        text.contains(&format!("{}: {}", last.title, last.rating)),
        "{text}"
    );
    let table = text.find("ranker ").unwrap();
    assert!(table > text.rfind("NDCG@10: ").unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_lists_carry_the_notes_the_model_card_asks_for() {
    let dir = tiny_dataset("card");
    let model = tiny_model_with_similarity_notes(&dir);
    let model = model.to_str().unwrap();
    let out = eval_tiny(
        &dir,
        &[
            "--llm",
            "--model",
            model,
            "--baseline",
            "popularity",
            "--show",
            "2",
        ],
    );
    let text = stdout_of(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "the ranker reads similarity notes in 7 tiers: lists built with --similarity-tiers 7"
        ),
        "{err}"
    );
    assert!(text.contains("similarity notes in 7 tiers)"), "{text}");
    // --show follows the LLM, whose rows carry the notes it read.
    assert!(text.contains("Top 3 by trained"), "{text}");
    let shows = shown(&text);
    assert_eq!(shows.len(), 2, "{text}");
    assert!(shows[0].2.starts_with("trained 0.") || shows[0].2.starts_with("trained 1."));
    assert!(shows[0].2.contains(" · popularity "), "{text}");
    assert!(text.contains("(similarity ") && text.contains("trained  Δ NDCG@10 vs popularity"));
    // Tiers the card does not have are refused before anything is built.
    let out = eval_tiny(
        &dir,
        &[
            "--llm",
            "--model",
            model,
            "--baseline",
            "popularity",
            "--similarity-tiers",
            "5",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--similarity-tiers 5") && err.contains("--similarity-tiers 7"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bootstrap_mode_ranks_with_borda_over_presentation_orders() {
    let dir = tiny_dataset("bootstrap");
    let model = tiny_model_with_similarity_notes(&dir);
    let model = model.to_str().unwrap();
    let llm = ["--llm", "--model", model];
    let text = stdout_of(&eval_tiny(
        &dir,
        &[&llm[..], &["--mode", "bootstrap", "--orders", "3"]].concat(),
    ));
    assert!(
        text.contains(
            "LLM mode: bootstrap (greedy lists under 3 presentation orders, seed 0, combined by \
             Borda count)"
        ),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("trained "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.split_whitespace().count() == 8, "{row}");
    // One presentation order is the list's own: the greedy ranking.
    let ndcg = |mode: &[&str]| -> serde_json::Value {
        let out = stdout_of(&eval_tiny(&dir, &[&llm[..], mode, &["--json"]].concat()));
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["ndcg@10"].clone()
    };
    assert_eq!(
        ndcg(&[
            "--mode",
            "bootstrap",
            "--orders",
            "1",
            "--bootstrap-seed",
            "9"
        ]),
        ndcg(&["--mode", "greedy"])
    );
    assert!(
        stdout_of(&eval_tiny(&dir, &llm)).contains("LLM mode: single"),
        "the table says which mode ran (single pass by default)"
    );
    // The bootstrap flags with another mode, or no order at all, are refused.
    for (extra, expect) in [
        (
            &["--orders", "3"][..],
            "--orders sets the presentation orders",
        ),
        (
            &["--mode", "single", "--bootstrap-seed", "1"][..],
            "--bootstrap-seed sets",
        ),
        (&["--mode", "bootstrap", "--orders", "0"][..], "--orders 0"),
    ] {
        let out = eval_tiny(&dir, &[&llm[..], extra].concat());
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{extra:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The cells of the position-bias table's row for `ranker`: Kendall τ, spread, mean.
fn position_bias_row(text: &str, ranker: &str) -> Vec<f64> {
    let at = text
        .find("position bias over ")
        .unwrap_or_else(|| panic!("{text}"));
    let row = text[at..]
        .lines()
        .find(|l| l.split_whitespace().next() == Some(ranker))
        .unwrap_or_else(|| panic!("{text}"));
    row.split_whitespace()
        .skip(1)
        .map(|c| c.parse().unwrap())
        .collect()
}

#[test]
fn position_bias_is_measured_over_seeded_presentation_orders() {
    let dir = tiny_dataset("position-bias");
    let model = tiny_model_with_similarity_notes(&dir);
    let model = model.to_str().unwrap();
    let args = [
        "--llm",
        "--model",
        model,
        "--position-bias",
        "3",
        "--limit",
        "4",
    ];
    let text = stdout_of(&eval_tiny(
        &dir,
        &[&args[..], &["--baseline", "popularity"]].concat(),
    ));
    assert!(
        text.contains(
            "position bias over 3 presentation orders (single mode, 4 lists; Kendall τ 1 and \
             spread 0 = none):"
        ),
        "{text}"
    );
    assert!(
        text.contains("ranker   Kendall τ  NDCG@10 spread  NDCG@10 mean"),
        "{text}"
    );
    let cells = position_bias_row(&text, "trained");
    assert_eq!(cells.len(), 3, "{text}");
    let (tau, spread, mean) = (cells[0], cells[1], cells[2]);
    assert!((-1.0..=1.0).contains(&tau), "{text}");
    assert!(spread >= 0.0 && (0.0..=1.0).contains(&mean), "{text}");
    // Baselines do not depend on the order: they get no row.
    let at = text.find("position bias over ").unwrap();
    assert!(!text[at..].contains("popularity"), "{text}");
    // --json carries the same numbers on the LLM's line, and the measure is reproducible.
    let json_of = |extra: &[&str]| -> serde_json::Value {
        let out = stdout_of(&eval_tiny(&dir, &[&args[..], extra, &["--json"]].concat()));
        serde_json::from_str(&out).unwrap()
    };
    let v = json_of(&[]);
    let pb = &v["position_bias"];
    assert_eq!(pb["orders"], 3, "{v}");
    let j_tau = pb["kendall_tau"].as_f64().unwrap();
    let j_spread = pb["ndcg10_spread"].as_f64().unwrap();
    assert!(
        (j_tau - tau).abs() < 1e-4 && (j_spread - spread).abs() < 1e-4,
        "{v}"
    );
    assert!(
        (pb["ndcg10_mean"].as_f64().unwrap() - mean).abs() < 1e-4,
        "{v}"
    );
    assert_eq!(json_of(&[]), v, "seeded");
    // In greedy mode too.
    let s = json_of(&["--mode", "greedy"]);
    assert!((-1.0..=1.0).contains(&s["position_bias"]["kendall_tau"].as_f64().unwrap()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn position_bias_needs_two_orders_and_an_llm() {
    let dir = tiny_dataset("position-bias-refused");
    let out = eval_tiny(
        &dir,
        &["--llm", "--model", "absent.gguf", "--position-bias", "1"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--position-bias 1: needs K ≥ 2 presentation orders"),
        "{err}"
    );
    let out = eval_tiny(&dir, &["--baseline", "popularity", "--position-bias", "3"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--position-bias measures how an LLM's ranking changes")
            && err.contains("--llm"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `data prepare` writes each file under a temporary name and renames it once complete: after a
/// run (also one over an earlier run's files) the folder holds the four files and nothing else,
/// and each data file has the manifest's number of lines and bytes.
#[test]
fn prepare_leaves_complete_files_and_no_temporaries() {
    let dir = tiny_dataset("atomic");
    let out = dir.join("prepared");
    for seed in ["1", "2"] {
        let mut args = vec!["data", "prepare", "--dataset", "ml-100k"];
        args.extend([
            "--path",
            dir.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--seed",
            seed,
        ]);
        args.extend(TINY);
        ok(&args);
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "manifest.json",
                "test.jsonl",
                "train.jsonl",
                "validation.jsonl"
            ],
            "seed {seed}"
        );
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(m["protocol"]["seed"], seed.parse::<u64>().unwrap());
        let outputs = m["outputs"].as_array().unwrap();
        assert_eq!(outputs.len(), 3);
        for (i, split) in ["train", "validation", "test"].iter().enumerate() {
            let file = format!("{split}.jsonl");
            let text = std::fs::read_to_string(out.join(&file)).unwrap();
            assert_eq!(outputs[i]["file"], file.as_str());
            assert_eq!(outputs[i]["bytes"], text.len() as u64, "{file}");
            assert!(text.is_empty() || text.ends_with('\n'), "{file}");
            assert_eq!(
                m["examples"][split],
                text.lines().count() as u64,
                "{file}: lines vs the manifest's count"
            );
        }
        assert!(m["examples"]["test"].as_u64().unwrap() > 0);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
