//! The `alro.*` GGUF keys: what an exported ranker says about how it was trained, so that every
//! consumer (the CLI, the browser) prompts it exactly as training did.
//!
//! | key | type | meaning | default for a plain backbone |
//! |---|---|---|---|
//! | `alro.format` | u32 | version of this key set | — |
//! | `alro.template_version` | string | prompt template ([`crate::prompt::TEMPLATE_VERSION`]) | this build's |
//! | `alro.identifiers` | string array | candidate labels, in presentation order | A–Z |
//! | `alro.m` | u32 | candidates per list in training | 20 |
//! | `alro.L` | u32 | history entries shown (`PromptConfig::max_history`) | 10 |
//! | `alro.rating_max` | f32 | top of the rating scale | 5 |
//! | `alro.item_noun` | string | what the prompt calls items | "movies" |
//! | `alro.run_id` | string | training run (directory name and step) | — |
//! | `alro.dataset_sha256` | string | SHA-256 of the training + validation example files | — |
//! | `alro.base_sha256` | string | SHA-256 of the backbone file the adapters were trained on | — |
//! | `alro.lora` | string | adapter summary, e.g. `r=8 alpha=16 q_proj,v_proj` | — |
//! | `alro.quantization` | string | export scheme (`Q8_0`, `Q4_K`, …) | — |
//! | `alro.popularity_tiers` | u32, optional | `N` of the `popularity T/N` notes every candidate must carry; absent = no notes | absent |
//! | `alro.similarity_tiers` | u32, optional | `N` of the `similarity T/N` notes every candidate must carry (after the popularity note, if any); absent = none | absent |
//! | `alro.similarity_steps` | u32, optional | similarity tiers per unit cosine (`T = 1 + ⌊steps·cosine⌋`, at most `N`); absent = 10, tenths | absent |
//! | `alro.match_tiers` | u32, optional | `N` of the `match T/N` notes every candidate must carry (after the other notes, if any); absent = none | absent |
//! | `alro.display_name` | string, optional | what a person calls the ranker, e.g. "alro movie ranker — SmolLM2-135M fine-tuned with ALRO on MovieLens 100K" | absent |
//! | `alro.quality` | string, optional | one line on how well it ranks, e.g. "NDCG@10 0.71 on 943 held-out MovieLens lists (popularity: 0.65)" | absent |
//! | `alro.card_url` | string, optional | link to the model card, relative to the page that shows the ranker (`alro export` writes "models/README.md" unless told otherwise) | absent |
//!
//! A file with no `alro.*` key is a plain backbone and gets the defaults. A file with some keys
//! but not the required ones, with keys of the wrong type, or with another template version is
//! refused: prompting a trained ranker with the wrong template silently ranks garbage. The three
//! descriptive keys change nothing about prompting; an empty string reads as absent.
//!
//! [`Presentation::of`] is what a UI shows (the CLI and the browser package alike): the card's
//! display name and quality line, or for a file without them a name made readable from
//! `general.basename`/`general.size_label` (`general.name` is often a conversion tool's
//! "Smollm2 135M 8k Lc100K Mix1 Ep2"), marked "(untrained backbone)" for a plain backbone, whose
//! quality line is [`UNTRAINED_QUALITY`].

use crate::data::similarity::TENTHS;
use crate::gguf::{GgufFile, GgufValue, ValueType};
use crate::identifiers::DEFAULT_LABELS;
use crate::prompt::{PromptConfig, NOTELESS_COMPATIBLE_VERSION, TEMPLATE_VERSION};
use crate::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;

/// Version of the key set written by this build.
pub const FORMAT: u32 = 1;
const PREFIX: &str = "alro.";

/// How an exported ranker was trained and must be prompted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelCard {
    pub template_version: String,
    pub identifiers: Vec<String>,
    /// `m` of the training lists.
    pub candidates: usize,
    /// `L`: history entries the prompt shows.
    pub history_len: usize,
    pub rating_max: f32,
    pub item_noun: String,
    pub run_id: String,
    pub dataset_sha256: String,
    pub base_sha256: String,
    pub lora: String,
    pub quantization: String,
    /// `N` of the training lists' popularity notes (0 = trained without notes).
    pub popularity_tiers: usize,
    /// `N` of the training lists' similarity notes (0 = trained without them).
    pub similarity_tiers: usize,
    /// Similarity tiers per unit cosine of those notes (10 = tenths).
    pub similarity_steps: usize,
    /// `N` of the training lists' match notes (0 = trained without them).
    pub match_tiers: usize,
    /// `alro.display_name`: what a person calls the ranker (`None`: not recorded).
    pub display_name: Option<String>,
    /// `alro.quality`: one line on how well it ranks, e.g. its test NDCG@10 and a baseline's.
    pub quality: Option<String>,
    /// `alro.card_url`: link to the model card, relative to the page showing the ranker.
    pub card_url: Option<String>,
}

impl ModelCard {
    /// The prompt configuration the ranker was trained with.
    pub fn prompt_config(&self) -> PromptConfig {
        PromptConfig {
            max_history: self.history_len,
            rating_max: self.rating_max,
            popularity_tiers: self.popularity_tiers,
            similarity_tiers: self.similarity_tiers,
            similarity_steps: self.similarity_steps,
            match_tiers: self.match_tiers,
            item_noun: self.item_noun.clone(),
            ..PromptConfig::default()
        }
    }

    /// The metadata entries to write, in a fixed order.
    pub fn to_gguf_entries(&self) -> Vec<(String, GgufValue)> {
        let s = |v: &str| GgufValue::String(v.to_string());
        let mut entries = vec![
            ("alro.format".into(), GgufValue::U32(FORMAT)),
            ("alro.template_version".into(), s(&self.template_version)),
            (
                "alro.identifiers".into(),
                GgufValue::Array(
                    ValueType::String,
                    self.identifiers.iter().map(|l| s(l)).collect(),
                ),
            ),
            ("alro.m".into(), GgufValue::U32(self.candidates as u32)),
            ("alro.L".into(), GgufValue::U32(self.history_len as u32)),
            ("alro.rating_max".into(), GgufValue::F32(self.rating_max)),
            ("alro.item_noun".into(), s(&self.item_noun)),
            ("alro.run_id".into(), s(&self.run_id)),
            ("alro.dataset_sha256".into(), s(&self.dataset_sha256)),
            ("alro.base_sha256".into(), s(&self.base_sha256)),
            ("alro.lora".into(), s(&self.lora)),
            ("alro.quantization".into(), s(&self.quantization)),
        ];
        // Optional, so files of rankers trained without notes stay byte-identical to before.
        if self.popularity_tiers > 0 {
            entries.push((
                "alro.popularity_tiers".into(),
                GgufValue::U32(self.popularity_tiers as u32),
            ));
        }
        if self.similarity_tiers > 0 {
            entries.push((
                "alro.similarity_tiers".into(),
                GgufValue::U32(self.similarity_tiers as u32),
            ));
            if self.similarity_steps != TENTHS {
                entries.push((
                    "alro.similarity_steps".into(),
                    GgufValue::U32(self.similarity_steps as u32),
                ));
            }
        }
        if self.match_tiers > 0 {
            entries.push((
                "alro.match_tiers".into(),
                GgufValue::U32(self.match_tiers as u32),
            ));
        }
        // Likewise optional: written only when given (an empty string is not given).
        for (key, value) in [
            ("alro.display_name", &self.display_name),
            ("alro.quality", &self.quality),
            ("alro.card_url", &self.card_url),
        ] {
            if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                entries.push((key.into(), s(v)));
            }
        }
        entries
    }

    /// Reads the card of `file`: `None` for a plain backbone (no `alro.*` key at all).
    pub fn from_gguf(file: &GgufFile) -> Result<Option<ModelCard>> {
        if !file.metadata.keys().any(|k| k.starts_with(PREFIX)) {
            return Ok(None);
        }
        let bad = |key: &str, why: &str| {
            Error::model(
                file.source_name.clone(),
                format!(
                    "metadata `{key}` {why}; this file was not written by a compatible `alro export`"
                ),
            )
        };
        let get = |key: &str| file.metadata.get(key).ok_or_else(|| bad(key, "is missing"));
        let string = |key: &str| -> Result<String> {
            get(key)?
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| bad(key, "is not a string"))
        };
        // Absent or empty: `None`; present with another type: refused like a required key.
        let optional_string = |key: &str| -> Result<Option<String>> {
            match file.metadata.get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_str()
                    .map(|s| Some(s.trim().to_string()).filter(|s| !s.is_empty()))
                    .ok_or_else(|| bad(key, "is not a string")),
            }
        };
        let count = |key: &str, max: u64| -> Result<usize> {
            let v = get(key)?
                .as_u64()
                .ok_or_else(|| bad(key, "is not an unsigned integer"))?;
            if v == 0 || v > max {
                return Err(bad(key, &format!("is {v}, outside 1..={max}")));
            }
            Ok(v as usize)
        };
        let format = count("alro.format", u32::MAX as u64)?;
        if format as u32 != FORMAT {
            return Err(bad(
                "alro.format",
                &format!("is {format}; this build reads format {FORMAT}"),
            ));
        }
        let template_version = string("alro.template_version")?;
        let identifiers: Vec<String> = get("alro.identifiers")?
            .as_array()
            .ok_or_else(|| bad("alro.identifiers", "is not an array"))?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad("alro.identifiers", "holds a non-string"))
            })
            .collect::<Result<_>>()?;
        if identifiers.is_empty() || identifiers.len() > 1024 {
            return Err(bad("alro.identifiers", "must hold 1 to 1024 labels"));
        }
        let candidates = count("alro.m", identifiers.len() as u64)?;
        let history_len = count("alro.L", 10_000)?;
        let rating_max = get("alro.rating_max")?
            .as_f64()
            .filter(|v| v.is_finite() && *v > 0.0)
            .ok_or_else(|| bad("alro.rating_max", "is not a positive number"))?
            as f32;
        let popularity_tiers = match file.metadata.get("alro.popularity_tiers") {
            None => 0,
            Some(_) => count(
                "alro.popularity_tiers",
                crate::data::protocol::MAX_POPULARITY_TIERS as u64,
            )?,
        };
        let similarity_steps = match file.metadata.get("alro.similarity_steps") {
            None => TENTHS,
            Some(_) => count(
                "alro.similarity_steps",
                crate::data::protocol::MAX_SIMILARITY_STEPS as u64,
            )?,
        };
        let similarity_tiers = match file.metadata.get("alro.similarity_tiers") {
            None => 0,
            // A cosine of 1 is tier `steps + 1`.
            Some(_) => count("alro.similarity_tiers", similarity_steps as u64 + 1)?,
        };
        let match_tiers = match file.metadata.get("alro.match_tiers") {
            None => 0,
            Some(_) => count(
                "alro.match_tiers",
                crate::data::protocol::MAX_MATCH_TIERS as u64,
            )?,
        };
        // A card of the noteless-compatible version asks for the very prompt this build renders
        // when it has no notes.
        let same_prompt = template_version == TEMPLATE_VERSION
            || (template_version == NOTELESS_COMPATIBLE_VERSION
                && popularity_tiers == 0
                && similarity_tiers == 0
                && match_tiers == 0);
        if !same_prompt {
            return Err(Error::model(
                file.source_name.clone(),
                format!(
                    "the ranker was trained with prompt template {template_version:?}, but this \
                     build speaks {TEMPLATE_VERSION:?}; use the alro version that exported it"
                ),
            ));
        }
        Ok(Some(ModelCard {
            template_version,
            identifiers,
            candidates,
            history_len,
            rating_max,
            item_noun: string("alro.item_noun")?,
            run_id: string("alro.run_id")?,
            dataset_sha256: string("alro.dataset_sha256")?,
            base_sha256: string("alro.base_sha256")?,
            lora: string("alro.lora")?,
            quantization: string("alro.quantization")?,
            popularity_tiers,
            similarity_tiers,
            similarity_steps,
            match_tiers,
            display_name: optional_string("alro.display_name")?,
            quality: optional_string("alro.quality")?,
            card_url: optional_string("alro.card_url")?,
        }))
    }
}

/// The quality line of a plain backbone: it was never taught to rank.
pub const UNTRAINED_QUALITY: &str = "untrained: ranks at chance";

/// What a UI shows about a model: its name as a person would say it, how well it ranks, and
/// where its model card is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Presentation {
    /// The card's `alro.display_name`; else a readable name of the backbone, followed by
    /// "(untrained backbone)" for a plain backbone or by the training run for a ranker.
    pub display_name: String,
    /// The card's `alro.quality`; [`UNTRAINED_QUALITY`] for a plain backbone; else `None`.
    pub quality: Option<String>,
    /// The card's `alro.card_url` (`None` for a plain backbone).
    pub card_url: Option<String>,
}

impl Presentation {
    /// From a file's card (`None`: plain backbone) and its GGUF metadata (for the `general.*`
    /// names).
    pub fn of(card: Option<&ModelCard>, metadata: &BTreeMap<String, GgufValue>) -> Presentation {
        let readable = || readable_model_name(metadata).unwrap_or_else(|| "Unnamed model".into());
        match card {
            None => Presentation {
                display_name: format!("{} (untrained backbone)", readable()),
                quality: Some(UNTRAINED_QUALITY.into()),
                card_url: None,
            },
            Some(card) => Presentation {
                display_name: card.display_name.clone().unwrap_or_else(|| {
                    let run = card.run_id.trim();
                    if run.is_empty() {
                        format!("{} ranker (alro)", readable())
                    } else {
                        format!("{} ranker (alro run {run})", readable())
                    }
                }),
                quality: card.quality.clone(),
                card_url: card.card_url.clone(),
            },
        }
    }
}

/// Model families whose usual spelling a lower-case `general.basename` loses.
const FAMILY_SPELLINGS: &[(&str, &str)] = &[
    ("smollm", "SmolLM"),
    ("tinyllama", "TinyLlama"),
    ("llama", "Llama"),
    ("qwen", "Qwen"),
    ("phi", "Phi"),
    ("gemma", "Gemma"),
    ("mistral", "Mistral"),
    ("olmo", "OLMo"),
    ("gpt2", "GPT-2"),
];

/// A model name a person would write, from the GGUF `general.*` keys: "SmolLM2-135M" from
/// basename "smollm2" and size label "135M", with a one-word fine-tune ("Instruct") appended;
/// else `general.name` as it is. `None` when the file names itself nowhere.
pub fn readable_model_name(metadata: &BTreeMap<String, GgufValue>) -> Option<String> {
    let get = |key: &str| {
        metadata
            .get(key)
            .and_then(GgufValue::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let Some(base) = get("general.basename") else {
        return get("general.name").map(str::to_string);
    };
    let family = FAMILY_SPELLINGS.iter().find(|(k, _)| {
        base.get(..k.len())
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(k))
    });
    let mut name = match family {
        Some((k, spelled)) => format!("{spelled}{}", &base[k.len()..]),
        None if base == base.to_lowercase() => capitalized(base),
        None => base.to_string(),
    };
    if let Some(size) = get("general.size_label") {
        if !name.to_lowercase().contains(&size.to_lowercase()) {
            name = format!("{name}-{size}");
        }
    }
    // "instruct", "chat": a word; "8k-lc100k-mix1-ep2" is a training recipe, not a name.
    if let Some(ft) = get("general.finetune") {
        if ft.len() <= 12 && ft.chars().all(|c| c.is_ascii_alphabetic()) {
            name = format!("{name}-{}", capitalized(ft));
        }
    }
    Some(name)
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The identifier labels of a plain backbone.
pub fn default_identifiers() -> Vec<String> {
    DEFAULT_LABELS.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::GgufWriter;

    fn card() -> ModelCard {
        ModelCard {
            template_version: TEMPLATE_VERSION.into(),
            identifiers: vec!["A".into(), "B".into(), "C".into()],
            candidates: 3,
            history_len: 5,
            rating_max: 5.0,
            item_noun: "movies".into(),
            run_id: "alro@30".into(),
            dataset_sha256: "ab".repeat(32),
            base_sha256: "cd".repeat(32),
            lora: "r=8 alpha=16 q_proj,v_proj".into(),
            quantization: "Q8_0".into(),
            popularity_tiers: 0,
            similarity_tiers: 0,
            similarity_steps: TENTHS,
            match_tiers: 0,
            display_name: None,
            quality: None,
            card_url: None,
        }
    }

    fn file_with(entries: Vec<(String, GgufValue)>) -> Result<Option<ModelCard>> {
        let mut w = GgufWriter::new();
        for (k, v) in entries {
            w.set(k, v);
        }
        let bytes = w.to_bytes();
        ModelCard::from_gguf(&GgufFile::parse(&bytes, "x.gguf")?)
    }

    #[test]
    fn round_trips_and_plain_files_have_none() {
        assert_eq!(file_with(card().to_gguf_entries()).unwrap(), Some(card()));
        let noted = ModelCard {
            popularity_tiers: 7,
            ..card()
        };
        assert_eq!(file_with(noted.to_gguf_entries()).unwrap(), Some(noted));
        let similar = ModelCard {
            similarity_tiers: 7,
            ..card()
        };
        assert_eq!(
            file_with(similar.to_gguf_entries()).unwrap(),
            Some(similar.clone())
        );
        assert_eq!(similar.prompt_config().similarity_tiers, 7);
        // Tenths go unwritten (files exported before the key existed stay byte-identical);
        // finer steps are written and read back.
        let has_steps = |c: &ModelCard| {
            c.to_gguf_entries()
                .iter()
                .any(|(k, _)| k == "alro.similarity_steps")
        };
        assert!(!has_steps(&similar));
        let fine = ModelCard {
            similarity_tiers: 20,
            similarity_steps: 40,
            ..card()
        };
        assert!(has_steps(&fine));
        assert_eq!(
            file_with(fine.to_gguf_entries()).unwrap(),
            Some(fine.clone())
        );
        assert_eq!(fine.prompt_config().similarity_steps, 40);
        // More tiers than the steps can reach are refused.
        let unreachable = ModelCard {
            similarity_tiers: 12,
            ..card()
        };
        let e = file_with(unreachable.to_gguf_entries())
            .unwrap_err()
            .to_string();
        assert!(e.contains("alro.similarity_tiers"), "{e}");
        let plain = vec![("general.name".to_string(), GgufValue::String("x".into()))];
        assert_eq!(file_with(plain).unwrap(), None);
    }

    #[test]
    fn partial_wrong_typed_or_foreign_template_cards_are_refused() {
        let mut missing = card().to_gguf_entries();
        missing.retain(|(k, _)| k != "alro.identifiers");
        let e = file_with(missing).unwrap_err().to_string();
        assert!(
            e.contains("alro.identifiers") && e.contains("missing"),
            "{e}"
        );

        let mut wrong = card().to_gguf_entries();
        wrong[3].1 = GgufValue::String("twenty".into()); // alro.m
        let e = file_with(wrong).unwrap_err().to_string();
        assert!(e.contains("alro.m"), "{e}");

        let mut too_many = card().to_gguf_entries();
        too_many[3].1 = GgufValue::U32(4); // m > number of identifiers
        assert!(file_with(too_many).is_err());

        let mut other = card().to_gguf_entries();
        other[1].1 = GgufValue::String("alro-v0".into());
        let e = file_with(other).unwrap_err().to_string();
        assert!(e.contains("alro-v0") && e.contains(TEMPLATE_VERSION), "{e}");

        // alro-v1 rendered notes elsewhere: its rankers load only when they read none.
        let v1 = |c: ModelCard| {
            let mut e = c.to_gguf_entries();
            e[1].1 = GgufValue::String(NOTELESS_COMPATIBLE_VERSION.into());
            file_with(e)
        };
        assert!(v1(card()).is_ok());
        let noted = ModelCard {
            similarity_tiers: 7,
            ..card()
        };
        assert!(v1(noted.clone())
            .unwrap_err()
            .to_string()
            .contains("alro-v1"));
        assert!(file_with(noted.to_gguf_entries()).is_ok());
    }

    fn described() -> ModelCard {
        ModelCard {
            display_name: Some(
                "alro movie ranker — SmolLM2-135M fine-tuned with ALRO on MovieLens 100K".into(),
            ),
            quality: Some("NDCG@10 0.71 on 943 held-out MovieLens lists (popularity: 0.65)".into()),
            card_url: Some("models/README.md".into()),
            ..card()
        }
    }

    #[test]
    fn descriptive_keys_round_trip_and_are_optional() {
        let entries = described().to_gguf_entries();
        let value = |k: &str| entries.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        assert_eq!(
            value("alro.card_url"),
            Some(&GgufValue::String("models/README.md".into()))
        );
        assert_eq!(file_with(entries.clone()).unwrap(), Some(described()));
        // One of the three alone; an empty string is not written and reads as absent.
        let only_quality = ModelCard {
            display_name: Some("  ".into()),
            card_url: None,
            ..described()
        };
        let entries = only_quality.to_gguf_entries();
        assert!(!entries.iter().any(|(k, _)| k == "alro.display_name"));
        let read = file_with(entries).unwrap().unwrap();
        assert_eq!((read.display_name, read.card_url), (None, None));
        assert_eq!(read.quality, described().quality);
        // Without them the file is the one this build wrote before they existed.
        assert_eq!(card().to_gguf_entries().len(), 12);
        let mut empty = card().to_gguf_entries();
        empty.push(("alro.quality".into(), GgufValue::String(String::new())));
        assert_eq!(file_with(empty).unwrap(), Some(card()));
    }

    #[test]
    fn wrongly_typed_descriptive_keys_are_refused() {
        for key in ["alro.display_name", "alro.quality", "alro.card_url"] {
            for wrong in [
                GgufValue::U32(7),
                GgufValue::Array(ValueType::String, vec![GgufValue::String("x".into())]),
            ] {
                let mut entries = card().to_gguf_entries();
                entries.push((key.into(), wrong));
                let e = file_with(entries).unwrap_err().to_string();
                assert!(e.contains(key) && e.contains("not a string"), "{e}");
            }
        }
    }

    fn metadata(pairs: &[(&str, &str)]) -> BTreeMap<String, GgufValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), GgufValue::String(v.to_string())))
            .collect()
    }

    #[test]
    fn plain_backbones_get_a_readable_name_and_the_untrained_quality() {
        // The setup's SmolLM2-135M-Instruct Q4_1 GGUF, as llama.cpp's converter named it.
        let smollm = metadata(&[
            ("general.name", "Smollm2 135M 8k Lc100K Mix1 Ep2"),
            ("general.basename", "smollm2"),
            ("general.size_label", "135M"),
            ("general.finetune", "8k-lc100k-mix1-ep2"),
        ]);
        let p = Presentation::of(None, &smollm);
        assert_eq!(p.display_name, "SmolLM2-135M (untrained backbone)");
        assert_eq!(p.quality.as_deref(), Some(UNTRAINED_QUALITY));
        assert_eq!(p.card_url, None);

        let cases: &[(&[(&str, &str)], Option<&str>)] = &[
            (
                &[
                    ("general.basename", "Qwen2.5"),
                    ("general.size_label", "0.5B"),
                    ("general.finetune", "instruct"),
                ],
                Some("Qwen2.5-0.5B-Instruct"),
            ),
            (
                &[
                    ("general.basename", "TinyLlama-1.1B"),
                    ("general.size_label", "1.1B"),
                ],
                Some("TinyLlama-1.1B"),
            ),
            (&[("general.basename", "orca")], Some("Orca")),
            (&[("general.basename", "İx")], Some("İx")),
            (
                &[("general.name", "tiny-random-llama")],
                Some("tiny-random-llama"),
            ),
            (
                &[("general.basename", " "), ("general.name", "N")],
                Some("N"),
            ),
            (&[], None),
        ];
        for (pairs, want) in cases {
            assert_eq!(
                readable_model_name(&metadata(pairs)).as_deref(),
                *want,
                "{pairs:?}"
            );
        }
        assert_eq!(
            Presentation::of(None, &BTreeMap::new()).display_name,
            "Unnamed model (untrained backbone)"
        );
        // A wrongly typed general.name is no name (the card's keys are checked, these are not).
        let mut odd = BTreeMap::new();
        odd.insert("general.name".to_string(), GgufValue::U32(3));
        assert_eq!(readable_model_name(&odd), None);
    }

    #[test]
    fn rankers_show_their_card_else_the_backbone_and_run() {
        let smollm = metadata(&[
            ("general.basename", "smollm2"),
            ("general.size_label", "135M"),
        ]);
        let p = Presentation::of(Some(&described()), &smollm);
        assert_eq!(p.display_name, described().display_name.unwrap());
        assert_eq!(p.quality, described().quality);
        assert_eq!(p.card_url.as_deref(), Some("models/README.md"));
        // Exported before the descriptive keys existed: named by backbone and run, no quality.
        let p = Presentation::of(Some(&card()), &smollm);
        assert_eq!(p.display_name, "SmolLM2-135M ranker (alro run alro@30)");
        assert_eq!((p.quality, p.card_url), (None, None));
    }
}
