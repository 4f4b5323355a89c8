//! The ranking prompt, versioned. [`render`] is the single function that turns a request into
//! prompt text: training, evaluation, export metadata and the browser all call it, so a model is
//! always asked exactly what it was trained on.
//!
//! ## Template `alro-v2`
//! ```text
//! <|im_start|>user
//! Rank movies for one user.
//! Their ratings, oldest first, out of 5:
//! - Toy Story (1995): 4
//! - Heat (1995): 3.5
//! Candidates:
//! [A] Casino (1995)
//! [B] Sabrina (1995)
//! Order all 2 candidates from most to least likely to be enjoyed by this user. Answer with the letters only.<|im_end|>
//! <|im_start|>assistant
//! Answer:
//! ```
//! A candidate with a `note` (side information such as `similarity 5/7`) is shown as
//! `(similarity 5/7) [A] Casino (1995)`; the note follows the same rule as titles. The note comes
//! before the identifier so that the identifier token reads its own line's note a few tokens
//! back, and the answer slot can copy the identifiers whose notes stand out in one attention
//! step. `alro-v1` showed the note after the title, right before the *next* line's identifier:
//! no model trained on that layout learned to rank 20 noted candidates above chance, where this
//! one learns it (docs/METHOD.md §1). Prompts without notes are the same in both versions.
//!
//! The answer (target text) is the identifiers in order, each with a leading space: `" B A"`.
//! The `<|im_start|>`/`<|im_end|>` chat frame is used when the vocabulary has both as special
//! tokens (SmolLM2 and other ChatML models); otherwise the same body is sent without it.
//!
//! ## Rule for titles (they are data, never template)
//! 1. Every control character (newline, tab, …) becomes a space; runs of white space collapse to
//!    one space; leading/trailing space is trimmed.
//! 2. Every occurrence of a special token's text (e.g. `<|im_end|>`) is deleted, repeatedly,
//!    until none is left — a title cannot open or close a turn.
//! 3. A title longer than `max_title_chars` characters is cut there and ends with `…`.
//! 4. An empty result is shown as `(untitled)`.
//!
//! History longer than `max_history` keeps its most recent `max_history` entries.

use crate::request::{Candidate, HistoryEntry, RankRequest};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

pub const TEMPLATE_VERSION: &str = "alro-v2";

/// The earlier template: the same prompt as `alro-v2` when no candidate carries a note, so a
/// ranker of that version trained without notes still loads.
pub const NOTELESS_COMPATIBLE_VERSION: &str = "alro-v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PromptConfig {
    /// `L`: history entries shown (most recent kept).
    pub max_history: usize,
    pub max_title_chars: usize,
    /// Highest rating on the dataset's scale (MovieLens: 5).
    pub rating_max: f32,
    /// The kind of item, as the prompt names it ("movies").
    pub item_noun: String,
    /// `N` > 0: the model was trained with `popularity T/N` notes, so every candidate must carry
    /// one (see `data::protocol`); 0: notes are optional free text.
    pub popularity_tiers: usize,
    /// `N` > 0: the model was trained with `similarity T/N` notes (after the popularity note when
    /// both are on), so every candidate must carry one; 0: no such requirement.
    pub similarity_tiers: usize,
    /// Similarity tiers per unit cosine (`data::similarity::similarity_tier`; 10 = tenths): how
    /// the product computes the notes it fills in (`notes::fill_notes`).
    pub similarity_steps: usize,
    /// `N` > 0: the model was trained with `match T/N` notes (after the other notes), so every
    /// candidate must carry one; 0: no such requirement.
    pub match_tiers: usize,
}

impl PromptConfig {
    /// Whether the model was trained with notes, so every candidate must carry one.
    pub fn needs_notes(&self) -> bool {
        self.popularity_tiers > 0 || self.similarity_tiers > 0 || self.match_tiers > 0
    }
}

impl Default for PromptConfig {
    fn default() -> Self {
        PromptConfig {
            max_history: 10,
            max_title_chars: 120,
            rating_max: 5.0,
            item_noun: "movies".into(),
            popularity_tiers: 0,
            similarity_tiers: 0,
            similarity_steps: crate::data::similarity::TENTHS,
            match_tiers: 0,
        }
    }
}

/// Applies the title rule (module docs) with the given special-token strings.
pub fn sanitize_title(title: &str, specials: &[String], max_chars: usize) -> String {
    let spaced: String = title
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut s = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    // Deleting one special can join the halves of another ("<|im_<|x|>end|>"), hence the loop;
    // each pass shortens the string, so it ends.
    loop {
        let before = s.len();
        for sp in specials.iter().filter(|sp| !sp.is_empty()) {
            s = s.replace(sp.as_str(), "");
        }
        if s.len() == before {
            break;
        }
    }
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let s = if s.chars().count() > max_chars {
        let mut cut: String = s.chars().take(max_chars.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        s
    };
    if s.is_empty() {
        "(untitled)".into()
    } else {
        s
    }
}

fn format_rating(r: f32) -> String {
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// Checks a request against the limits of the prompt and identifier set. `max_candidates` is the
/// number of identifiers available.
pub fn validate(req: &RankRequest, config: &PromptConfig, max_candidates: usize) -> Result<()> {
    if req.candidates.is_empty() {
        return Err(Error::Request(
            "no candidates: give at least one item to rank".into(),
        ));
    }
    if req.candidates.len() > max_candidates {
        return Err(Error::Request(format!(
            "{} candidates, but this model has only {max_candidates} identifiers; split the list or rank at most {max_candidates} at a time",
            req.candidates.len()
        )));
    }
    if req.history.is_empty() {
        return Err(Error::Request(
            "history is empty: the user must have rated at least one item".into(),
        ));
    }
    let mut ids = std::collections::BTreeSet::new();
    for c in &req.candidates {
        if !ids.insert(c.id.as_str()) {
            return Err(Error::Request(format!(
                "candidate id {:?} appears more than once",
                c.id
            )));
        }
    }
    check_note_tiers(req, config)?;
    for (i, h) in req.history.iter().enumerate() {
        if !h.rating.is_finite() || h.rating < 0.0 || h.rating > config.rating_max {
            return Err(Error::Request(format!(
                "history[{i}] ({:?}) has rating {}, outside 0..={}",
                h.title, h.rating, config.rating_max
            )));
        }
    }
    Ok(())
}

/// A ranker trained with notes must get the same notes: `popularity P/N` first when on, then
/// `similarity S/N` when on, then `match M/N` when on, `, `-separated as `alro data prepare` writes them (further parts may
/// follow). Without either, notes are free text.
/// `(T, N)` of one note part `KIND T/N` with 1 ≤ T ≤ N, or `None` if `part` is not one: the
/// format every note reader shares (this validation, and the notes-alone baseline).
pub fn note_part_tier(part: &str, kind: &str) -> Option<(usize, usize)> {
    let (t, n) = part
        .strip_prefix(kind)?
        .strip_prefix(' ')?
        .split_once('/')?;
    let (t, n): (usize, usize) = (t.parse().ok()?, n.parse().ok()?);
    (1..=n).contains(&t).then_some((t, n))
}

fn check_note_tiers(req: &RankRequest, config: &PromptConfig) -> Result<()> {
    let kinds = [
        ("popularity", config.popularity_tiers, "T from 1 (rarely rated) to {n} (rated at least half as often as the most rated item)"),
        ("similarity", config.similarity_tiers, "T rises with the mean co-rating cosine with the history, from 1 to {n} (DATA.md, \"Similarity notes\")"),
        ("match", config.match_tiers, "T rises with how well the film matches the history's taste, from 1 to {n} (DATA.md, \"Match notes\")"),
    ];
    let wanted: Vec<_> = kinds.iter().filter(|k| k.1 > 0).collect();
    for c in &req.candidates {
        let mut parts = c.note.as_deref().unwrap_or("").split(", ");
        for &&(kind, n, range) in &wanted {
            let tier = parts
                .next()
                .and_then(|part| note_part_tier(part, kind))
                .filter(|&(_, of)| of == n);
            if tier.is_none() {
                let example: Vec<String> = wanted
                    .iter()
                    .map(|k| format!("{} T/{}", k.0, k.1))
                    .collect();
                return Err(Error::Request(format!(
                    "candidate {:?} has note {:?}, but this ranker was trained with {kind} notes: give every candidate `\"note\": \"{}\"`, {}",
                    c.id,
                    c.note,
                    example.join(", "),
                    range.replace("{n}", &n.to_string())
                )));
            }
        }
    }
    Ok(())
}

/// The prompt's parts, so callers can tell the target text apart.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedPrompt {
    /// Everything up to and including `Answer:`.
    pub text: String,
    pub version: &'static str,
}

/// Renders `history` and `candidates` (in presentation order, labelled by `labels`).
pub fn render(
    history: &[HistoryEntry],
    candidates: &[Candidate],
    labels: &[String],
    config: &PromptConfig,
    specials: &[String],
    chat_frame: bool,
) -> RenderedPrompt {
    let recent = &history[history.len().saturating_sub(config.max_history)..];
    let title = |t: &str| sanitize_title(t, specials, config.max_title_chars);
    let mut body = format!(
        "Rank {} for one user.\nTheir ratings, oldest first, out of {}:\n",
        config.item_noun,
        format_rating(config.rating_max)
    );
    for h in recent {
        body.push_str(&format!(
            "- {}: {}\n",
            title(&h.title),
            format_rating(h.rating)
        ));
    }
    body.push_str("Candidates:\n");
    for (c, label) in candidates.iter().zip(labels) {
        match &c.note {
            Some(note) => body.push_str(&format!(
                "({}) [{label}] {}\n",
                title(note),
                title(&c.title)
            )),
            None => body.push_str(&format!("[{label}] {}\n", title(&c.title))),
        }
    }
    body.push_str(&format!(
        "Order all {} candidates from most to least likely to be enjoyed by this user. Answer with the letters only.",
        candidates.len()
    ));
    let text = if chat_frame {
        format!("<|im_start|>user\n{body}<|im_end|>\n<|im_start|>assistant\nAnswer:")
    } else {
        format!("{body}\nAnswer:")
    };
    RenderedPrompt {
        text,
        version: TEMPLATE_VERSION,
    }
}

/// The target text for a ground-truth order (indices into the presentation order).
pub fn target_text(order: &[usize], labels: &[String]) -> String {
    order.iter().map(|&i| format!(" {}", labels[i])).collect()
}
