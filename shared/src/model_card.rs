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
//!
//! A file with no `alro.*` key is a plain backbone and gets the defaults. A file with some keys
//! but not the required ones, with keys of the wrong type, or with another template version is
//! refused: prompting a trained ranker with the wrong template silently ranks garbage.

use crate::gguf::{GgufFile, GgufValue, ValueType};
use crate::identifiers::DEFAULT_LABELS;
use crate::prompt::{PromptConfig, TEMPLATE_VERSION};
use crate::{Error, Result};
use serde::Serialize;

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
}

impl ModelCard {
    /// The prompt configuration the ranker was trained with.
    pub fn prompt_config(&self) -> PromptConfig {
        PromptConfig {
            max_history: self.history_len,
            rating_max: self.rating_max,
            popularity_tiers: self.popularity_tiers,
            similarity_tiers: self.similarity_tiers,
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
        if template_version != TEMPLATE_VERSION {
            return Err(Error::model(
                file.source_name.clone(),
                format!(
                    "the ranker was trained with prompt template {template_version:?}, but this \
                     build speaks {TEMPLATE_VERSION:?}; use the alro version that exported it"
                ),
            ));
        }
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
        let similarity_tiers = match file.metadata.get("alro.similarity_tiers") {
            None => 0,
            Some(_) => count(
                "alro.similarity_tiers",
                crate::data::protocol::MAX_SIMILARITY_TIERS as u64,
            )?,
        };
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
        }))
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
    }
}
