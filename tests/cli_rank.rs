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

/// A response's ranking, sorted: equal to the sorted candidate ids when it is a permutation.
fn ranked_ids(response: &serde_json::Value) -> Vec<&str> {
    let mut ids: Vec<&str> = response["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

const GOOD: &str = r#"{"history": [{"title": "Toy Story (1995)", "rating": 4}], "candidates": [{"id": "m1", "title": "Heat (1995)"}, {"id": "m2", "title": "Casino (1995)"}, {"id": "m3", "title": "Amélie (2001)"}]}"#;

#[test]
fn rank_writes_one_response_per_request() {
    let dir = workdir("ok");
    let model = tiny_model(&dir);
    let input = dir.join("requests.jsonl");
    std::fs::write(&input, format!("{GOOD}\n\n{GOOD}\n")).unwrap();
    for mode in ["greedy", "single", "bootstrap"] {
        let lines = rank_lines(&model, &input, &["--mode", mode]);
        assert_eq!(lines.len(), 2);
        for v in &lines {
            assert_eq!(ranked_ids(v), ["m1", "m2", "m3"]);
            assert_eq!(v["scores"].as_object().unwrap().len(), 3);
        }
    }
    std::fs::remove_dir_all(dir).ok();
}

/// `alro rank --backend wgpu` (on lavapipe without a GPU) ranks as the CPU does: the same
/// rankings in every mode, the single pass's scores within float rounding. Skipped only with
/// `ALRO_SKIP_GPU_TESTS=1`, like alro-gpu's own tests.
#[test]
fn wgpu_backend_ranks_as_the_cpu() {
    if std::env::var("ALRO_SKIP_GPU_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("skipping GPU test: ALRO_SKIP_GPU_TESTS=1");
        return;
    }
    let dir = workdir("wgpu");
    let model = tiny_model(&dir);
    let input = dir.join("requests.jsonl");
    let five = r#"{"history": [{"title": "Heat (1995)", "rating": 5}, {"title": "Fargo (1996)", "rating": 2}], "candidates": [{"id": "a", "title": "Alien (1979)"}, {"id": "b", "title": "Babe (1995)"}, {"id": "c", "title": "Clueless (1995)"}, {"id": "d", "title": "Dune (1984)"}, {"id": "e", "title": "Emma (1996)"}]}"#;
    std::fs::write(&input, format!("{GOOD}\n{five}\n")).unwrap();
    let run = |backend: &str, mode: &str| {
        let args = [
            "--mode",
            mode,
            "--orders",
            "3",
            "--seed",
            "7",
            "--backend",
            backend,
        ];
        rank_lines(&model, &input, &args)
    };
    for mode in ["greedy", "single", "bootstrap"] {
        let (cpu, gpu) = (run("cpu", mode), run("wgpu", mode));
        assert_eq!(cpu.len(), 2);
        for (c, g) in cpu.iter().zip(&gpu) {
            assert_eq!(c["ranking"], g["ranking"], "{mode}");
            if mode == "single" {
                for (id, score) in c["scores"].as_object().unwrap() {
                    let (a, b) = (score.as_f64().unwrap(), g["scores"][id].as_f64().unwrap());
                    assert!((a - b).abs() < 1e-3, "{id}: cpu {a}, wgpu {b}");
                }
            }
        }
    }
    // A folder (a Hugging Face checkpoint) is refused with the fix.
    let out = alro()
        .args(["rank", "--backend", "wgpu", "--model"])
        .arg(&dir)
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("alro export"),
        "{err}"
    );
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

/// `alro inspect prompt` on `input` with `model` and `extra` flags.
fn inspect_prompt(
    model: &std::path::Path,
    input: &std::path::Path,
    extra: &[&std::ffi::OsStr],
) -> std::process::Output {
    alro()
        .args(["inspect", "prompt", "--model"])
        .arg(model)
        .arg("--input")
        .arg(input)
        .args(extra)
        .output()
        .unwrap()
}

/// `alro rank --model model --input input args…`'s responses (the run must succeed).
fn rank_lines(
    model: &std::path::Path,
    input: &std::path::Path,
    args: &[&str],
) -> Vec<serde_json::Value> {
    let out = alro()
        .args(["rank", "--model"])
        .arg(model)
        .arg("--input")
        .arg(input)
        .args(args)
        .output()
        .unwrap();
    json_lines(&out)
}

fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The ranker `alro rank --model path` builds, through the library.
fn library_ranker(path: &std::path::Path) -> alro_core::rank::Ranker {
    use alro_core::model::{Backbone, MatrixPrecision};
    let b =
        Backbone::from_path(path, MatrixPrecision::AsStored, &candle_core::Device::Cpu).unwrap();
    let prompt = b.prompt_config();
    alro_core::rank::Ranker::new(b, prompt).unwrap()
}

fn u32s(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| u32::try_from(x.as_u64().unwrap()).unwrap())
        .collect()
}

#[test]
fn inspect_prompt_gives_the_rankers_tokens_and_names_bad_lines() {
    use alro_core::request::RankRequest;
    let dir = workdir("inspect-prompt");
    let model = tiny_model(&dir);
    let input = dir.join("requests.jsonl");
    let two = r#"{"history": [{"title": "Alien (1979)", "rating": 2}], "candidates": [{"id": "x", "title": "Heat (1995)"}, {"id": "y", "title": "Up (2009)"}]}"#;
    std::fs::write(&input, format!("{GOOD}\n\n{two}\n")).unwrap();
    let lines = json_lines(&inspect_prompt(&model, &input, &[]));
    assert_eq!(lines.len(), 2, "one line per request, blank lines skipped");
    let ranker = library_ranker(&model);
    for (v, text) in lines.iter().zip([GOOD, two]) {
        let req: RankRequest = serde_json::from_str(text).unwrap();
        let prepared = ranker.prepare(&req).unwrap();
        assert_eq!(u32s(&v["ids"]), prepared.tokens);
        let identifiers = u32s(&v["identifier_ids"]);
        assert_eq!(identifiers.len(), req.candidates.len());
        assert_eq!(
            identifiers,
            ranker.identifier_token_ids()[..req.candidates.len()]
        );
    }

    // A line that is not a request, and one the model refuses (a duplicate id): each named
    // `file:line`, and nothing is written.
    let name = input.display().to_string();
    let dup = GOOD.replace("\"m2\"", "\"m1\"");
    for (text, bad_line, says) in [
        (format!("{GOOD}\n{{\"history\": [\n"), 2, "expected"),
        (
            format!("{GOOD}\n{GOOD}\n{dup}\n"),
            3,
            "appears more than once",
        ),
    ] {
        std::fs::write(&input, text).unwrap();
        let out = inspect_prompt(&model, &input, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && out.stdout.is_empty(), "{err}");
        assert!(
            err.contains(&format!("{name}:{bad_line}:")) && err.contains(says),
            "{err}"
        );
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn inspect_prompt_fills_notes_like_rank() {
    use alro_core::notes::{fill_notes, ItemTable};
    use alro_core::request::RankRequest;
    let dir = workdir("inspect-notes");
    let model = tiny_model_with_similarity_notes(&dir);
    let input = dir.join("requests.jsonl");
    let plain = r#"{"history": [{"title": "Toy Story (1995)", "rating": 4}, {"title": "the matrix", "rating": 5}], "candidates": [{"id": "m1", "title": "Heat (1995)"}, {"id": "m2", "title": "Casino"}, {"id": "m3", "title": "Amélie (2001)", "note": "similarity 7/7"}]}"#;
    std::fs::write(&input, format!("{plain}\n")).unwrap();
    let items = committed_items();
    let lines = json_lines(&inspect_prompt(
        &model,
        &input,
        &["--items".as_ref(), items.as_os_str()],
    ));
    assert_eq!(lines.len(), 1);
    let ranker = library_ranker(&model);
    let table = ItemTable::from_json(&std::fs::read(&items).unwrap()).unwrap();
    let mut req: RankRequest = serde_json::from_str(plain).unwrap();
    fill_notes(&mut req, &ranker.prompt, &table);
    assert!(req.candidates.iter().all(|c| c.note.is_some()));
    let prepared = ranker.prepare(&req).unwrap();
    assert!(
        prepared.text.contains("similarity 7/7"),
        "{}",
        prepared.text
    );
    assert_eq!(u32s(&lines[0]["ids"]), prepared.tokens);
    assert_eq!(u32s(&lines[0]["identifier_ids"]).len(), 3);

    // Without a table (none at the default path here): refused like `alro rank`.
    let out = alro()
        .current_dir(&dir)
        .args(["inspect", "prompt", "--model"])
        .arg(&model)
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && out.stdout.is_empty() && err.contains("--items"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// The shipped path: with the committed release adapter, `scripts/setup.sh` exports the default
/// ranker, and `alro rank` without `--model` ranks with it — computing the similarity notes its
/// card asks for from the default item table, since the example requests carry none.
#[test]
fn the_release_ranker_is_the_default_and_fills_its_notes() {
    let root = alro_tests::repo_root();
    let ranker = root.join(".cache/models/alro-ranker.q8_0.gguf");
    assert!(
        root.join("models/ranker/adapter.safetensors").exists(),
        "the release adapter is committed under models/ranker/"
    );
    assert!(
        ranker.exists(),
        "{} missing: run `bash scripts/setup.sh`, which exports it from models/ranker/",
        ranker.display()
    );
    let requests = root.join("examples/requests.jsonl");
    let out = alro()
        .current_dir(&root)
        .env_remove("ALRO_MODEL")
        .args(["rank", "--mode", "single", "--input"])
        .arg(&requests)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("untrained"),
        "fell back to the backbone: {stderr}"
    );
    let text = std::fs::read_to_string(&requests).unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), text.lines().count());
    for (req, resp) in text.lines().zip(stdout.lines()) {
        let req: serde_json::Value = serde_json::from_str(req).unwrap();
        let resp: serde_json::Value = serde_json::from_str(resp).unwrap();
        let mut asked: Vec<&str> = req["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        asked.sort_unstable();
        assert_eq!(
            ranked_ids(&resp),
            asked,
            "not a permutation of the candidates"
        );
    }
}
