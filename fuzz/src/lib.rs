//! Fuzz harnesses, one function per `fuzz_targets/*.rs`. Each takes arbitrary bytes, must never
//! panic, hang or allocate without bound, and asserts what must hold when the input is accepted.
//!
//! Multi-part inputs (a ratings file and an items file, a config and a tokenizer …) are framed by
//! [`SEPARATOR`] so that seeds stay readable files (`tests/examples/make_fuzz_corpus.rs` writes them).

use alro_core::data::{self, Input, LoadOptions};
use alro_core::gguf::GgufFile;
use alro_core::identifiers::Identifiers;
use alro_core::model::{Backbone, MatrixPrecision};
use alro_core::prompt::{self, PromptConfig};
use alro_core::rank::{self, RankMode, Ranker};
use alro_core::request::{Candidate, HistoryEntry, RankRequest};
use alro_core::tokenizer::Tokenizer;
use candle_core::Device;
use std::sync::OnceLock;

/// Separates the parts of a multi-part input.
pub const SEPARATOR: &[u8] = b"\n--8<--\n";

/// Splits `data` at every [`SEPARATOR`].
pub fn parts(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
        out.push(&rest[..at]);
        rest = &rest[at + SEPARATOR.len()..];
    }
    out.push(rest);
    out
}

/// A small fixed request ranked with every model the fuzzer manages to load.
fn probe_request() -> RankRequest {
    RankRequest {
        history: vec![HistoryEntry {
            title: "Heat (1995)".into(),
            rating: 4.0,
        }],
        candidates: ["Alien (1979)", "Fargo (1996)", "Toy Story (1995)"]
            .iter()
            .enumerate()
            .map(|(i, t)| Candidate {
                id: format!("c{i}"),
                title: t.to_string(),
                note: None,
            })
            .collect(),
    }
}

/// An accepted model must rank: a permutation of the probe's candidates, or a clean error.
fn rank_probe(backbone: Backbone) {
    let config = backbone.prompt_config();
    let Ok(ranker) = Ranker::new(backbone, config) else {
        return;
    };
    let req = probe_request();
    for mode in [RankMode::Single, RankMode::Greedy] {
        if let Ok(resp) = ranker.rank(&req, mode) {
            let mut ids = resp.ranking.clone();
            ids.sort();
            assert_eq!(ids, vec!["c0", "c1", "c2"], "{mode:?} ranking is not a permutation");
        }
    }
}

/// A whole GGUF file: header (lying counts, sizes, offsets, alignment), every tensor's data,
/// model card, config, tokenizer and weights; an accepted model ranks the probe request.
pub fn gguf_model(data: &[u8]) {
    if let Ok(file) = GgufFile::parse(data, "fuzz.gguf") {
        for t in &file.tensors {
            let _ = file.tensor_data(data, t);
        }
    }
    let Ok(backbone) = Backbone::from_gguf_bytes(data, "fuzz.gguf", MatrixPrecision::AsStored, &Device::Cpu)
    else {
        return;
    };
    rank_probe(backbone);
}

/// The tokenizer built from GGUF metadata (`tokenizer.ggml.*`): build, encode, decode.
pub fn gguf_tokenizer(data: &[u8]) {
    let Ok(file) = GgufFile::parse(data, "fuzz.gguf") else {
        return;
    };
    let Ok(tok) = Tokenizer::from_gguf(&file) else {
        return;
    };
    let text = "Rated: Amélie (2001) 4.5/5 <|im_start|>user\n\u{0}\u{feff} A B C";
    if let Ok(ids) = tok.encode_with_bos(text) {
        assert!(ids.iter().all(|&id| (id as usize) < tok.vocab_size().max(1) || tok.id_to_token(id).is_some()));
        let _ = tok.decode(&ids);
    }
    let _ = Identifiers::default_for(&tok);
    let _ = tok.special_strings();
}

/// Every dataset loader. Byte 0 picks the loader; the rest is `ratings ✂ items` (see `parts`).
pub fn data_loaders(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let p = parts(rest);
    let ratings = Input {
        name: "ratings",
        bytes: p[0],
    };
    let items = Input {
        name: "items",
        bytes: p.get(1).copied().unwrap_or_default(),
    };
    let options = LoadOptions {
        skip_bad_lines: which & 0x80 != 0,
        kcore: (which & 0x40 != 0).then_some(2),
    };
    let loaded = match which % 6 {
        0 => data::movielens::load_ml100k(ratings, items, &options),
        1 => data::movielens::load_ml1m(ratings, items, &options),
        2 => data::movielens::load_ml_latest("ml-latest-small", ratings, items, &options),
        3 => data::amazon::load_amazon("amazon-2018", ratings, Some(items), &options),
        4 => data::amazon::load_amazon("amazon-2014", ratings, None, &options),
        _ => {
            if let Ok(text) = std::str::from_utf8(p[0]) {
                let _ = data::parse_jsonl("prepared.jsonl", text);
            }
            return;
        }
    };
    if let Ok(ds) = loaded {
        let _ = data::DatasetStats::of(&ds);
    }
}

/// The tiny model's tokenizer, built once (the same loader the real backbone goes through).
fn tiny_tokenizer() -> &'static Tokenizer {
    static TOKENIZER: OnceLock<Tokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| {
        let bytes = alro_core::model::tiny::tiny_llama_gguf(&Default::default()).expect("tiny model");
        let file = GgufFile::parse(&bytes, "tiny.gguf").expect("tiny model parses");
        Tokenizer::from_gguf(&file).expect("tiny tokenizer")
    })
}

const SPECIALS: [&str; 2] = ["<|im_start|>", "<|im_end|>"];

/// The prompt renderer: validation, title sanitising, rendering. Input: a JSON request; byte 0
/// sets `L`, the title cap and the chat frame. Whatever the titles hold, they cannot add turn
/// markers: the rendered prompt has exactly as many as with every title replaced by "x".
pub fn prompt(data: &[u8]) {
    let Some((&knobs, rest)) = data.split_first() else {
        return;
    };
    let Ok(req) = serde_json::from_slice::<RankRequest>(rest) else {
        return;
    };
    let config = PromptConfig {
        max_history: 1 + (knobs & 0x0f) as usize,
        max_title_chars: 1 + ((knobs >> 4) & 0x07) as usize * 20,
        ..Default::default()
    };
    let chat = knobs & 0x80 != 0;
    let labels: Vec<String> = ('A'..='Z').map(String::from).collect();
    if prompt::validate(&req, &config, labels.len()).is_err() {
        return;
    }
    let specials: Vec<String> = SPECIALS.iter().map(|s| s.to_string()).collect();
    let rendered = prompt::render(&req.history, &req.candidates, &labels, &config, &specials, chat);
    let mut plain = req.clone();
    plain.history.iter_mut().for_each(|h| h.title = "x".into());
    plain.candidates.iter_mut().for_each(|c| c.title = "x".into());
    let reference = prompt::render(&plain.history, &plain.candidates, &labels, &config, &specials, chat);
    for s in SPECIALS {
        assert_eq!(
            rendered.text.matches(s).count(),
            reference.text.matches(s).count(),
            "a title injected {s}"
        );
    }
}

/// The JSON a page passes to `ranker.rank` (the wasm boundary deserialises the same
/// `RankRequest` with serde), through validation, rendering and tokenization: an accepted request
/// fits the context with room for the answer.
pub fn request_json(data: &[u8]) {
    let Ok(req) = serde_json::from_slice::<RankRequest>(data) else {
        return;
    };
    let tok = tiny_tokenizer();
    let Ok(ids) = Identifiers::default_for(tok) else {
        panic!("tiny tokenizer has no A–Z identifiers");
    };
    let context = 1024;
    if let Ok(p) = rank::prepare(tok, context, &ids, &PromptConfig::default(), &req) {
        assert_eq!(p.candidates, req.candidates.len());
        assert!(p.tokens.len() + p.candidates <= context);
    }
}

/// A Hugging Face checkpoint given as parts: `config.json ✂ tokenizer.json ✂ model.safetensors
/// [✂ tokenizer_config.json]`; an accepted model ranks the probe request.
pub fn hf_checkpoint(data: &[u8]) {
    let p = parts(data);
    if p.len() < 3 {
        return;
    }
    let shards = [("model.safetensors", p[2])];
    if let Ok(b) = Backbone::from_hf_parts("fuzz-hf", p[0], p[1], p.get(3).copied(), &shards, &Device::Cpu) {
        rank_probe(b);
    }
}
