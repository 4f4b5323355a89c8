//! The model card (`alro.*` keys, [`alro_core::model_card`]) an export writes: how the
//! checkpoint was trained, read from its state; the lists' shape and notes, read from the
//! prepared data's protocol; and the words a person gives it.

use crate::train::checkpoint::State;
use crate::train::config::LoraConfig;
use alro_core::data::similarity::TENTHS;
use alro_core::data::ProtocolConfig;
use alro_core::model_card::{default_identifiers, ModelCard};
use alro_core::prompt::{PromptConfig, TEMPLATE_VERSION};

/// What a person says of the ranker (`alro.display_name`, `alro.quality`, `alro.card_url`);
/// `None` or an empty link writes no key.
#[derive(Debug, Clone, Default)]
pub struct CardText {
    pub display_name: Option<String>,
    pub quality: Option<String>,
    pub card_url: Option<String>,
}

/// The card of checkpoint `state` of run `run_name`, trained on lists of `protocol` (`None`:
/// the prompt defaults, 20 candidates and no notes). The quantization is filled in per file.
pub fn model_card(
    state: &State,
    protocol: Option<&ProtocolConfig>,
    run_name: &str,
    text: CardText,
) -> ModelCard {
    let defaults = PromptConfig::default();
    ModelCard {
        template_version: TEMPLATE_VERSION.into(),
        identifiers: default_identifiers(),
        candidates: protocol.map_or(20, |p| p.candidates),
        history_len: protocol.map_or(defaults.max_history, |p| {
            p.history_len.min(defaults.max_history)
        }),
        rating_max: defaults.rating_max,
        item_noun: defaults.item_noun.clone(),
        run_id: format!("{run_name}@step{}", state.step),
        dataset_sha256: state.data_sha256.clone(),
        base_sha256: state.backbone.sha256.clone(),
        lora: lora_summary(&state.config.lora),
        quantization: String::new(),
        popularity_tiers: protocol.map_or(0, |p| p.popularity_tiers),
        similarity_tiers: protocol.map_or(0, |p| p.similarity_tiers),
        similarity_steps: protocol.map_or(TENTHS, |p| p.similarity_steps),
        match_tiers: protocol.map_or(0, |p| p.match_tiers),
        display_name: text.display_name,
        quality: text.quality,
        card_url: text.card_url,
    }
}

/// "r=8 alpha=16 q_proj,v_proj (last 8 blocks)" — the adapter summary of `alro.lora`.
pub fn lora_summary(cfg: &LoraConfig) -> String {
    let mut s = format!("r={} alpha={} {}", cfg.rank, cfg.alpha, cfg.target_names());
    if let Some(n) = cfg.last_layers {
        s.push_str(&format!(" (last {n} blocks)"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::checkpoint::{BackboneId, FORMAT};
    use crate::train::TrainConfig;
    use alro_core::model::Projection;

    fn state() -> State {
        let mut config = TrainConfig::default();
        config.lora.targets = vec![Projection::QProj, Projection::DownProj];
        config.lora.last_layers = Some(4);
        State {
            format: FORMAT,
            step: 140,
            total_steps: 300,
            backbone: BackboneId {
                name: "tiny".into(),
                sha256: "b".repeat(64),
                layers: 2,
                hidden: 64,
                vocab: 300,
            },
            config,
            data_sha256: "d".repeat(64),
            best: None,
            rng: "derived".into(),
            seconds: 1.0,
        }
    }

    #[test]
    fn the_card_takes_training_from_the_state_and_lists_from_the_protocol() {
        let protocol = ProtocolConfig {
            history_len: 30,
            candidates: 12,
            similarity_tiers: 20,
            similarity_steps: 40,
            ..ProtocolConfig::default()
        };
        let text = CardText {
            display_name: Some("movie ranker".into()),
            quality: None,
            card_url: Some("models/README.md".into()),
        };
        let card = model_card(&state(), Some(&protocol), "stage2", text);
        assert_eq!(card.run_id, "stage2@step140");
        assert_eq!(card.lora, "r=8 alpha=16 q_proj,down_proj (last 4 blocks)");
        assert_eq!(
            (card.dataset_sha256.len(), card.base_sha256.len()),
            (64, 64)
        );
        assert_eq!(card.candidates, 12);
        // The prompt shows at most its own history length, whatever the lists held.
        assert_eq!(card.history_len, PromptConfig::default().max_history);
        assert_eq!((card.similarity_tiers, card.similarity_steps), (20, 40));
        assert_eq!(card.popularity_tiers, 0);
        assert_eq!(card.display_name.as_deref(), Some("movie ranker"));
        assert_eq!(card.quality, None);
        assert_eq!(card.template_version, TEMPLATE_VERSION);

        let plain = model_card(&state(), None, "run", CardText::default());
        assert_eq!(plain.candidates, 20);
        assert_eq!(
            (plain.similarity_tiers, plain.similarity_steps),
            (0, TENTHS)
        );
        assert_eq!(plain.card_url, None);
    }
}
