//! Fuzz harnesses, one function per `fuzz_targets/*.rs`. Each takes arbitrary bytes, must never
//! panic, hang or allocate without bound, and asserts what must hold when the input is accepted.
//!
//! Multi-part inputs (a ratings file and an items file, a config and a tokenizer …) are framed by
//! [`SEPARATOR`] so that seeds stay readable files (`tests/examples/make_fuzz_corpus.rs` writes them).

use alro_core::data::protocol::MAX_POPULARITY_TIERS;
use alro_core::data::similarity::{similarity_tier, TENTHS};
use alro_core::data::{self, Input, LoadOptions};
use alro_core::gguf::GgufFile;
use alro_core::identifiers::Identifiers;
use alro_core::model::{Backbone, MatrixPrecision};
use alro_core::notes::titles::{item_keys, parse_query, split_year, KeyKind};
use alro_core::notes::{self, ItemTable};
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

/// Free-text titles looked up per input (lines of the second part), at most.
const MAX_FREE_TITLES: usize = 16;
/// Items whose own titles are looked up, and items put into the probe requests.
const OWN_TITLE_CHECKS: usize = 8;
/// Free-text titles put into the note probes are cut to this many bytes (each is also looked up
/// once whole), so that one long line is not searched hundreds of times per input.
const PROBE_TITLE_BYTES: usize = 256;

/// `s` cut to at most `max` bytes, at a character boundary.
fn clip(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The order `ItemTable::find` picks by among the items under a key (`notes::titles` docs):
/// year rank, how the key was made, most rated, first in the table.
type FindRank = (u8, KeyKind, std::cmp::Reverse<u32>, usize);
fn find_rank(table: &ItemTable, i: usize, key: &str, year: Option<u16>) -> Option<FindRank> {
    let item = table.item(i);
    let kind = item_keys(item.title).into_iter().find(|(k, _)| k == key)?.1;
    let year_rank = match (year, item.year) {
        (None, _) => 0,
        (Some(q), Some(y)) if q == y => 0,
        (Some(q), Some(y)) if q.abs_diff(y) == 1 => 1,
        _ => 2,
    };
    Some((year_rank, kind, std::cmp::Reverse(table.rating_count(i)), i))
}

/// An item found for `query` is under one of the query's keys.
fn check_found(table: &ItemTable, query: &str, found: Option<usize>) {
    let Some(j) = found else { return };
    assert!(j < table.len(), "find({query:?}) = {j}, past {} items", table.len());
    let keys = parse_query(query).keys;
    let item_keys = item_keys(table.item(j).title);
    assert!(
        keys.iter().any(|k| item_keys.iter().any(|(ik, _)| ik == k)),
        "find({query:?}) = {j} ({:?}), under none of the query's keys {keys:?}",
        table.item(j).title
    );
}

/// The item table reader (`alro_core::notes`, docs/DATA.md "Item table"). Input: `table JSON
/// [✂ free-text titles, one a line]`. An accepted table round-trips through `to_json`, finds its
/// own items by their titles, gives notes in `1..=N`, and `fill_notes` gives every candidate of a
/// request a note that validation accepts.
pub fn item_table(data: &[u8]) {
    let p = parts(data);
    let Ok(table) = ItemTable::from_json(p[0]) else {
        return;
    };

    // What was accepted is within the file's rules, and reads back to the same table.
    let mut max_count = 0;
    for i in 0..table.len() {
        let item = table.item(i);
        assert!(!item.title.trim().is_empty() && item.title.len() <= notes::table::MAX_TITLE_BYTES);
        assert!(item.year.is_none_or(|y| (1000..=9999).contains(&y)), "{item:?}");
        assert!(item.raters.windows(2).all(|w| w[0] < w[1]), "items[{i}]: raters not increasing");
        assert!(item.raters.iter().all(|&r| (r as usize) < table.users()), "items[{i}]: rater out of range");
        assert_eq!(table.rating_count(i) as usize, item.raters.len());
        max_count = max_count.max(item.raters.len() as u32);
    }
    assert_eq!(table.max_rating_count(), max_count);
    let json = table.to_json();
    let back = ItemTable::from_json(json.as_bytes())
        .unwrap_or_else(|e| panic!("to_json wrote a table from_json refuses: {e}"));
    assert_eq!(back.to_json(), json, "to_json → from_json → to_json changed the text");
    assert_eq!(
        (back.source(), back.users(), back.len(), back.max_rating_count()),
        (table.source(), table.users(), table.len(), table.max_rating_count())
    );
    for i in 0..table.len() {
        assert_eq!(back.item(i), table.item(i), "items[{i}] changed on the round trip");
    }

    // Each of the first items is found by its own title, with and without its year: the item
    // `find` returns is under the query's first key and first in find's order among those items
    // (so no worse than the item itself). Titles that end in a year group of their own
    // (`Foo(1999)` with year null) are left out: a query reads that group as the year, and
    // `alro items build` never writes such a title (it splits the year off).
    for i in 0..table.len().min(OWN_TITLE_CHECKS) {
        let item = table.item(i);
        if item_keys(item.title).is_empty() || split_year(item.title).1.is_some() {
            continue;
        }
        for query in [item.title.to_string(), item.display_title()] {
            let q = parse_query(&query);
            let found = table.find(&query);
            let Some(j) = found else {
                panic!("find({query:?}) found nothing; items[{i}] is {item:?}");
            };
            assert_eq!(back.find(&query), found, "the round-tripped table finds another item");
            let key = &q.keys[0];
            let mine = find_rank(&table, i, key, q.year)
                .unwrap_or_else(|| panic!("items[{i}] ({:?}) is not under its query's key {key:?}", item.title));
            let theirs = find_rank(&table, j, key, q.year)
                .unwrap_or_else(|| panic!("find({query:?}) = {j}, not under the query's first key {key:?}"));
            assert!(theirs <= mine, "find({query:?}) = {j} {theirs:?}, but items[{i}] ranks {mine:?}");
        }
    }

    // Free-text titles: each looked up whole; the probes below use them clipped.
    let text = p.get(1).map(|b| String::from_utf8_lossy(b)).unwrap_or_default();
    let free: Vec<&str> = text.lines().take(MAX_FREE_TITLES).collect();
    for t in &free {
        check_found(&table, t, table.find(t));
    }
    let free: Vec<&str> = free.iter().map(|t| clip(t, PROBE_TITLE_BYTES)).collect();
    let own: Vec<String> = (0..table.len().min(OWN_TITLE_CHECKS))
        .map(|i| table.item(i).display_title())
        .collect();
    let mut history: Vec<String> = own.iter().take(3).cloned().collect();
    history.extend(free.iter().take(4).map(|t| t.to_string()));
    history.push("Unheard Of (1990)".into());
    let mut candidates: Vec<String> = own.clone();
    candidates.extend(free.iter().take(4).map(|t| t.to_string()));
    candidates.push("Nowhere (2020)".into());

    // Notes of a probe: tiers in 1..=N, and what the outcome says agrees with `find`.
    let history_found: Vec<Option<usize>> = history.iter().map(|h| table.find(h)).collect();
    let unknown_history: Vec<usize> = (0..history.len()).filter(|&k| history_found[k].is_none()).collect();
    for c in &candidates {
        let item = table.find(c);
        check_found(&table, c, item);
        for n in 1..=MAX_POPULARITY_TIERS {
            let o = table.popularity_note(c, n);
            assert!((1..=n).contains(&o.tier), "popularity_note({c:?}, {n}) = {o:?}");
            assert_eq!(o.candidate, item);
            assert_eq!(o.value, item.map(|i| f64::from(table.rating_count(i))));
            if item.is_none() {
                assert_eq!(o.tier, 1, "an unknown candidate gets popularity 1/{n}");
            }
        }
        // Tenths up to their most tiers (11), and the 20 tiers of 40ths.
        for (n, steps) in [(1, TENTHS), (7, TENTHS), (11, TENTHS), (20, 40)] {
            let o = table.similarity_note(c, &history[..], n, steps);
            assert!((1..=n).contains(&o.tier), "similarity_note({c:?}, {n}) = {o:?}");
            assert_eq!(o.candidate, item);
            assert_eq!(o.unknown_history, unknown_history);
            let expect_value = item.is_some() && unknown_history.len() < history.len();
            assert_eq!(o.value.is_some(), expect_value, "similarity_note({c:?}) = {o:?}");
            match o.value {
                Some(v) => {
                    assert!((0.0..=1.0 + 1e-9).contains(&v), "mean cosine {v}");
                    assert_eq!(o.tier, similarity_tier(v, n, steps).max(1));
                }
                None => assert_eq!(o.tier, 1),
            }
        }
    }

    // fill_notes on a request: every candidate without a note (none, or blank) gets one that
    // validation accepts, the same as the single-note functions give; a noted one is left alone.
    let config = PromptConfig {
        similarity_tiers: 7,
        popularity_tiers: 7,
        ..Default::default()
    };
    let kept = "popularity 3/7, similarity 2/7";
    let mut req = RankRequest {
        history: history
            .iter()
            .map(|t| HistoryEntry {
                title: t.clone(),
                rating: 4.0,
            })
            .collect(),
        candidates: candidates
            .iter()
            .enumerate()
            .map(|(i, t)| Candidate {
                id: format!("c{i}"),
                title: t.clone(),
                note: (i == 1).then(|| " ".to_string()),
            })
            .collect(),
    };
    req.candidates.push(Candidate {
        id: "noted".into(),
        title: candidates[0].clone(),
        note: Some(kept.into()),
    });
    let before = req.clone();
    let mut untouched = req.clone();
    assert_eq!(notes::fill_notes(&mut untouched, &PromptConfig::default(), &table), Default::default());
    assert_eq!(untouched, before, "fill_notes changed a request whose config needs no notes");
    let report = notes::fill_notes(&mut req, &config, &table);
    assert_eq!(report.filled, candidates.len());
    if let Err(e) = prompt::validate(&req, &config, 26) {
        panic!("fill_notes wrote notes validation refuses: {e}; {:?}", req.candidates);
    }
    let shown = &history[history.len().saturating_sub(config.max_history)..];
    for (c, t) in req.candidates.iter().zip(&candidates) {
        let want = format!(
            "{}, {}",
            table.popularity_note(t, 7).part("popularity", 7),
            table.similarity_note(t, shown, 7, TENTHS).part("similarity", 7)
        );
        assert_eq!(c.note.as_deref(), Some(want.as_str()), "{t:?}");
    }
    assert_eq!(req.candidates.last().unwrap().note.as_deref(), Some(kept));
    let unknown: Vec<&String> = candidates.iter().filter(|t| table.find(t).is_none()).collect();
    assert_eq!(report.unknown_candidates.iter().collect::<Vec<_>>(), unknown);
    let unknown: Vec<&String> = shown.iter().filter(|t| table.find(t).is_none()).collect();
    assert_eq!(report.unknown_history.iter().collect::<Vec<_>>(), unknown);
}
