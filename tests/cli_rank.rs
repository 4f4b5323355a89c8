//! End-to-end tests of `alro rank` and `alro inspect` (the binary itself) on a tiny random GGUF
//! model: the JSONL contract, error messages that name the line, and the inspect outputs.

use alro_core::model::tiny::{tiny_llama_gguf, TinySpec};
use alro_tests::tiny_model_with_similarity_notes;
use std::path::PathBuf;
use std::process::Command;

fn alro() -> Command {
    Command::new(env!("CARGO_BIN_EXE_alro"))
}

fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("alro-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn tiny_model(dir: &std::path::Path) -> PathBuf {
    let p = dir.join("tiny.gguf");
    std::fs::write(&p, tiny_llama_gguf(&TinySpec::default()).unwrap()).unwrap();
    p
}

const GOOD: &str = r#"{"history": [{"title": "Toy Story (1995)", "rating": 4}], "candidates": [{"id": "m1", "title": "Heat (1995)"}, {"id": "m2", "title": "Casino (1995)"}, {"id": "m3", "title": "Amélie (2001)"}]}"#;

#[test]
fn rank_writes_one_response_per_request() {
    let dir = workdir("ok");
    let model = tiny_model(&dir);
    let input = dir.join("requests.jsonl");
    std::fs::write(&input, format!("{GOOD}\n\n{GOOD}\n")).unwrap();
    for mode in ["greedy", "single", "bootstrap"] {
        let out = alro()
            .args(["rank", "--model"])
            .arg(&model)
            .arg("--input")
            .arg(&input)
            .args(["--mode", mode])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        for v in &lines {
            let mut ranking: Vec<&str> = v["ranking"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap())
                .collect();
            ranking.sort();
            assert_eq!(ranking, ["m1", "m2", "m3"]);
            assert_eq!(v["scores"].as_object().unwrap().len(), 3);
        }
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_lines_are_named_and_nothing_is_ranked() {
    let dir = workdir("bad");
    let model = tiny_model(&dir);
    let input = dir.join("requests.jsonl");
    let dup = GOOD.replace("\"m2\"", "\"m1\"");
    let mut bytes = format!("{GOOD}\n{{\"history\": []\n{dup}\n").into_bytes();
    bytes.extend_from_slice(b"\xff\xfe not utf8\n");
    std::fs::write(&input, bytes).unwrap();
    let out = alro()
        .args(["rank", "--model"])
        .arg(&model)
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        out.stdout.is_empty(),
        "something was ranked despite bad lines"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let name = input.display().to_string();
    assert!(
        err.contains(&format!("{name}:2:")),
        "line 2 not named: {err}"
    );
    assert!(
        err.contains(&format!("{name}:4: not valid UTF-8")),
        "line 4 not named: {err}"
    );

    // Line 2 fixed: the duplicate id on line 3 is caught by request validation, named too.
    let text = format!("{GOOD}\n{GOOD}\n{dup}\n");
    std::fs::write(&input, text).unwrap();
    let out = alro()
        .args(["rank", "--model"])
        .arg(&model)
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{name}:3:")) && err.contains("appears more than once"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn missing_and_corrupt_models_are_clear_errors() {
    let dir = workdir("model");
    let input = dir.join("requests.jsonl");
    std::fs::write(&input, format!("{GOOD}\n")).unwrap();
    let out = alro()
        .args(["rank", "--model", "/nonexistent/model.gguf", "--input"])
        .arg(&input)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("/nonexistent/model.gguf")
            && err.contains("scripts/setup.sh"),
        "{err}"
    );
    let bad = dir.join("bad.gguf");
    std::fs::write(&bad, b"GGUF\x03\x00\x00\x00garbage").unwrap();
    let out = alro()
        .args(["rank", "--model"])
        .arg(&bad)
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("bad.gguf") && err.contains("truncated"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn inspect_tokenize_and_logits() {
    let dir = workdir("inspect");
    let model = tiny_model(&dir);
    let out = alro()
        .args(["inspect", "tokenize", "--model"])
        .arg(&model)
        .args(["--text", " A B<|im_end|>"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // " A" and " B" are single tokens (ids 256, 257) and <|im_end|> is the special token after Z.
    assert_eq!(v["ids"], serde_json::json!([256, 257, 283]));
    let out = alro()
        .args(["inspect", "logits", "--model"])
        .arg(&model)
        .args(["--text", "hello", "--top", "3"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let top = v["top"].as_array().unwrap();
    assert_eq!(top.len(), 3);
    assert!(top[0]["logit"].as_f64().unwrap() >= top[1]["logit"].as_f64().unwrap());
    assert!(top[0]["token"].is_string() && top[0]["id"].is_u64());
    std::fs::remove_dir_all(dir).ok();
}

/// The committed item table of MovieLens latest-small (models/ITEMS.md).
fn committed_items() -> PathBuf {
    alro_tests::repo_root().join("models/items-ml-latest-small.json")
}

#[test]
fn rank_computes_similarity_notes_from_an_item_table() {
    let dir = workdir("items");
    let model = tiny_model_with_similarity_notes(&dir);
    let input = dir.join("requests.jsonl");
    // "Unheard Of" is in no table: left out of the mean, and reported.
    let plain = r#"{"history": [{"title": "Toy Story (1995)", "rating": 4}, {"title": "the matrix", "rating": 5}, {"title": "Unheard Of (2031)", "rating": 3}], "candidates": [{"id": "m1", "title": "Heat (1995)"}, {"id": "m2", "title": "Casino"}, {"id": "m3", "title": "Amélie (2001)"}]}"#;
    std::fs::write(&input, format!("{plain}\n")).unwrap();
    let rank = |extra: &[&std::ffi::OsStr], cwd: &std::path::Path| {
        alro()
            .current_dir(cwd)
            .args(["rank", "--model"])
            .arg(&model)
            .arg("--input")
            .arg(&input)
            .args(extra)
            .output()
            .unwrap()
    };
    let ranked = |out: &std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value =
            serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
        let mut ids: Vec<String> = v["ranking"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        ids.sort();
        assert_eq!(ids, ["m1", "m2", "m3"]);
    };

    // With a table: ranked; the unknown history title is named on stderr.
    let items = committed_items();
    let out = rank(&["--items".as_ref(), items.as_os_str()], &dir);
    ranked(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"Unheard Of (2031)\"") && !err.contains("Heat"),
        "{err}"
    );
    // The default table, found from the repository root.
    ranked(&rank(&[], &alro_tests::repo_root()));

    // Without a table (none at the default path here): refused, naming the flag.
    let out = rank(&[], &dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && out.stdout.is_empty() && err.contains("--items"),
        "{err}"
    );
    assert!(err.contains("similarity T/7"), "{err}");
    // A bad table is an error naming the file.
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"format":"alro-items","version":9}"#).unwrap();
    let out = rank(&["--items".as_ref(), bad.as_os_str()], &dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("bad.json") && err.contains("item table"),
        "{err}"
    );

    // Candidates that carry their notes need no table and are ranked as given.
    let noted = plain
        .replace(
            r#""title": "Heat (1995)""#,
            r#""title": "Heat (1995)", "note": "similarity 2/7""#,
        )
        .replace(
            r#""title": "Casino""#,
            r#""title": "Casino", "note": "similarity 1/7""#,
        )
        .replace(
            r#""title": "Amélie (2001)""#,
            r#""title": "Amélie (2001)", "note": "similarity 7/7""#,
        );
    std::fs::write(&input, format!("{noted}\n")).unwrap();
    let out = rank(&[], &dir);
    ranked(&out);
    assert!(out.stderr.is_empty() || !String::from_utf8_lossy(&out.stderr).contains("notes:"));
    std::fs::remove_dir_all(dir).ok();
}
