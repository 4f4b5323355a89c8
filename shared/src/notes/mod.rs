//! Candidate notes computed on the device from a shipped item table, so that a caller passes
//! history and candidates only (docs/DATA.md, "Item table").
//!
//! A ranker trained with `popularity P/N` and/or `similarity S/N` notes (its model card's
//! `popularity_tiers` / `similarity_tiers`) must be asked with the same notes. [`fill_notes`]
//! writes them from an [`ItemTable`] with the functions the protocol uses for training lists:
//! [`crate::data::protocol::popularity_tier`] over the table's rating counts, and
//! [`crate::data::similarity::similarity_tier`] of [`CoRatingIndex::mean_cosine`]
//! (crate::data::similarity::CoRatingIndex) over the history films the prompt shows (the last
//! `max_history`), for a user who is not in the table.
//!
//! Unknown films: history films the table does not know are left out of the mean; a candidate
//! the table does not know, or a history with no known film, gets the lowest tier (`similarity
//! 1/N`; `popularity 1/N` for an unknown candidate) and is still ranked. [`NotesReport`] lists
//! those titles so that the caller can say so.

pub mod table;
pub mod titles;

pub use table::{ItemRef, ItemTable};

use crate::data::protocol::popularity_tier;
use crate::data::similarity::similarity_tier;
use crate::prompt::PromptConfig;
use crate::request::RankRequest;
use crate::{Error, Result};

/// One note's tier and how it was reached.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteOutcome {
    /// `T` of `kind T/N`.
    pub tier: usize,
    /// The candidate's item in the table, if the table knows the title.
    pub candidate: Option<usize>,
    /// Similarity: the mean cosine over the known history films (`None` when the candidate or
    /// every history film is unknown). Popularity: the rating count (`None` when unknown).
    pub value: Option<f64>,
    /// Similarity: indices (into the history given) of the films the table does not know.
    pub unknown_history: Vec<usize>,
}

impl NoteOutcome {
    /// The note part, e.g. `similarity 3/7`.
    pub fn part(&self, kind: &str, tiers: usize) -> String {
        format!("{kind} {}/{tiers}", self.tier)
    }
}

impl ItemTable {
    /// The similarity tier (1..=`tiers`, `steps` per unit cosine) of `candidate_title` with the
    /// films of `history_titles` (give the ones the prompt shows: the last `max_history`).
    /// Unknown films as in the module docs.
    pub fn similarity_note<S: AsRef<str>>(
        &self,
        candidate_title: &str,
        history_titles: &[S],
        tiers: usize,
        steps: usize,
    ) -> NoteOutcome {
        let history: Vec<Option<usize>> = history_titles
            .iter()
            .map(|t| self.find(t.as_ref()))
            .collect();
        self.similarity_of(self.find(candidate_title), &history, tiers, steps)
    }

    /// [`ItemTable::similarity_note`] with the titles already looked up.
    fn similarity_of(
        &self,
        candidate: Option<usize>,
        history: &[Option<usize>],
        tiers: usize,
        steps: usize,
    ) -> NoteOutcome {
        let known: Vec<usize> = history.iter().flatten().copied().collect();
        let unknown_history = (0..history.len())
            .filter(|&i| history[i].is_none())
            .collect();
        let value = candidate
            .filter(|_| !known.is_empty())
            .map(|c| self.mean_cosine(c, &known));
        NoteOutcome {
            tier: value.map_or(1, |s| similarity_tier(s, tiers, steps)).max(1),
            candidate,
            value,
            unknown_history,
        }
    }

    /// The popularity tier (1..=`tiers`) of `candidate_title`: one tier down per halving of its
    /// rating count below the table's most rated item; unknown titles get 1.
    pub fn popularity_note(&self, candidate_title: &str, tiers: usize) -> NoteOutcome {
        self.popularity_of(self.find(candidate_title), tiers)
    }

    fn popularity_of(&self, candidate: Option<usize>, tiers: usize) -> NoteOutcome {
        let count = candidate.map(|c| self.rating_count(c));
        let max = self.max_rating_count();
        let tier = match count {
            Some(n) if max > 0 => popularity_tier(n, max, tiers),
            _ => 1,
        };
        NoteOutcome {
            tier: tier.clamp(1, tiers.max(1)),
            candidate,
            value: count.map(f64::from),
            unknown_history: Vec::new(),
        }
    }
}

/// What [`fill_notes`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotesReport {
    /// Candidates that got a note.
    pub filled: usize,
    /// Titles of filled candidates the table does not know (they got the lowest tiers).
    pub unknown_candidates: Vec<String>,
    /// Titles of shown history films the table does not know (left out of the similarity mean
    /// and the match taste); listed only when a similarity or match note was filled.
    pub unknown_history: Vec<String>,
}

impl NotesReport {
    /// Every unknown title, history first, each once.
    pub fn unknown_titles(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for t in self.unknown_history.iter().chain(&self.unknown_candidates) {
            if !out.contains(&t.as_str()) {
                out.push(t);
            }
        }
        out
    }
}

/// Whether `table` can give the notes `config` requires: match notes need a table built with
/// them, in as many tiers. The error says how to build one.
pub fn check_table(table: &ItemTable, config: &PromptConfig) -> Result<()> {
    let n = config.match_tiers;
    match table.match_model() {
        _ if n == 0 => Ok(()),
        Some(m) if m.tiers() == n => Ok(()),
        found => Err(Error::Request(format!(
            "this ranker reads match notes in {n} tiers, but the item table ({}) {}: build one \
             with `alro items build --match-tiers {n}`",
            table.source(),
            match found {
                Some(m) => format!("has them in {} tiers", m.tiers()),
                None => "has none".to_string(),
            }
        ))),
    }
}

/// Gives every candidate without a note (none, or blank) the note `config` requires —
/// `popularity P/N`, `similarity S/N`, `match M/N`, `, `-joined in that order when several, as
/// `alro data prepare` writes them — from `table`. Candidates that carry a note are left as they
/// are (validation then checks them); a config that requires no note changes nothing. Match notes
/// need a table that passes [`check_table`]; with another, candidates get match tier 1.
pub fn fill_notes(req: &mut RankRequest, config: &PromptConfig, table: &ItemTable) -> NotesReport {
    let mut report = NotesReport::default();
    let (pop, sim, fit) = (
        config.popularity_tiers,
        config.similarity_tiers,
        config.match_tiers,
    );
    let missing = |note: &Option<String>| note.as_deref().is_none_or(|n| n.trim().is_empty());
    if !config.needs_notes() || !req.candidates.iter().any(|c| missing(&c.note)) {
        return report;
    }
    // The history the prompt shows (`prompt::render` keeps the last `max_history`).
    let shown = &req.history[req.history.len().saturating_sub(config.max_history)..];
    let history: Vec<Option<usize>> = if sim > 0 || fit > 0 {
        shown.iter().map(|h| table.find(&h.title)).collect()
    } else {
        Vec::new()
    };
    let known: Vec<u32> = history.iter().flatten().map(|&i| i as u32).collect();
    for c in req.candidates.iter_mut().filter(|c| missing(&c.note)) {
        let item = table.find(&c.title);
        let mut parts = Vec::with_capacity(2);
        if pop > 0 {
            parts.push(table.popularity_of(item, pop).part("popularity", pop));
        }
        if sim > 0 {
            parts.push(
                table
                    .similarity_of(item, &history, sim, config.similarity_steps)
                    .part("similarity", sim),
            );
        }
        if fit > 0 {
            let tier = match (table.match_model(), item) {
                (Some(m), Some(i)) if m.tiers() == fit => m.tier(i as u32, &known),
                _ => 1,
            };
            parts.push(format!("match {tier}/{fit}"));
        }
        c.note = Some(parts.join(", "));
        report.filled += 1;
        if item.is_none() {
            report.unknown_candidates.push(c.title.clone());
        }
    }
    if sim > 0 || fit > 0 {
        report.unknown_history = shown
            .iter()
            .zip(&history)
            .filter(|(_, found)| found.is_none())
            .map(|(h, _)| h.title.clone())
            .collect();
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::{Item, LoadOptions, LoadReport, RawRating};
    use crate::data::similarity::{CoRatingIndex, TENTHS};
    use crate::data::Dataset;
    use crate::request::{Candidate, HistoryEntry};

    fn dataset(items: &[&str], ratings: &[(u32, usize)]) -> Dataset {
        let catalog = items
            .iter()
            .enumerate()
            .map(|(i, t)| Item {
                id: format!("{i}"),
                title: t.to_string(),
            })
            .collect();
        let raw = ratings
            .iter()
            .enumerate()
            .map(|(k, &(u, i))| RawRating {
                user: format!("{u}"),
                item: format!("{i}"),
                rating: 4.0,
                timestamp: k as i64,
            })
            .collect();
        Dataset::from_raw(
            "toy",
            catalog,
            raw,
            &LoadOptions::default(),
            LoadReport::default(),
        )
        .unwrap()
    }

    /// Three users: 0 rated A, B, C; 1 rated A, B; 2 rated B, D.
    fn toy() -> ItemTable {
        let ds = dataset(
            &[
                "Alpha (2000)",
                "Beta (2001)",
                "Gamma, The (2002)",
                "Delta (2003)",
            ],
            &[(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 1), (2, 3)],
        );
        ItemTable::from_dataset(&ds, "toy", None).unwrap()
    }

    fn request(history: &[&str], candidates: &[(&str, Option<&str>)]) -> RankRequest {
        RankRequest {
            history: history
                .iter()
                .map(|t| HistoryEntry {
                    title: t.to_string(),
                    rating: 4.0,
                })
                .collect(),
            candidates: candidates
                .iter()
                .enumerate()
                .map(|(i, (t, n))| Candidate {
                    id: format!("c{i}"),
                    title: t.to_string(),
                    note: n.map(str::to_string),
                })
                .collect(),
        }
    }

    #[test]
    fn cosine_and_tier_by_hand() {
        let t = toy();
        // Raters: A {0,1}, B {0,1,2}, C {0}, D {2}.
        // cos(C, A) = 1/√2, cos(C, B) = 1/√3: mean 0.6421 → tier 7 of 7 (capped), 7 of 11.
        let n = t.similarity_note("The Gamma", &["Alpha", "Beta (2001)"], 11, TENTHS);
        let want = (1.0 / 2f64.sqrt() + 1.0 / 3f64.sqrt()) / 2.0;
        assert!((n.value.unwrap() - want).abs() < 1e-12);
        assert_eq!(n.tier, 7);
        assert_eq!(
            t.similarity_note("gamma", &["Alpha", "Beta"], 5, TENTHS)
                .tier,
            5
        );
        // cos(D, A) = 0, cos(D, B) = 1/√3 = 0.577: mean 0.2887 → tier 3.
        let n = t.similarity_note("Delta (2003)", &["Alpha", "Beta"], 7, TENTHS);
        assert!((n.value.unwrap() - 1.0 / 3f64.sqrt() / 2.0).abs() < 1e-12);
        assert_eq!(n.tier, 3);
        // Popularity: counts 2, 3, 1, 1 of at most 3 → tiers 7 (≥ 3/2), 7, 6 (≥ 3/4), 6.
        assert_eq!(t.popularity_note("Alpha", 7).tier, 7);
        assert_eq!(t.popularity_note("Gamma, The (2002)", 7).tier, 6);
        assert_eq!(t.popularity_note("Gamma, The (2002)", 7).value, Some(1.0));
    }

    #[test]
    fn unknown_films_rules() {
        let t = toy();
        // An unknown history film is left out of the mean: the same as without it.
        let with = t.similarity_note("Delta", &["Alpha", "Nope (1990)", "Beta"], 7, TENTHS);
        let without = t.similarity_note("Delta", &["Alpha", "Beta"], 7, TENTHS);
        assert_eq!(with.value, without.value);
        assert_eq!(with.unknown_history, [1]);
        // Unknown candidate, or no known history film: the lowest tier.
        let n = t.similarity_note("Nope", &["Alpha"], 7, TENTHS);
        assert_eq!((n.tier, n.candidate, n.value), (1, None, None));
        let n = t.similarity_note("Gamma", &["Nope", "Zilch"], 7, TENTHS);
        assert_eq!((n.tier, n.candidate, n.value), (1, Some(2), None));
        assert_eq!(n.unknown_history, [0, 1]);
        assert_eq!(
            t.similarity_note("Gamma", &[] as &[&str], 7, TENTHS).tier,
            1
        );
        assert_eq!(t.popularity_note("Nope", 7).tier, 1);
    }

    #[test]
    fn agrees_with_the_protocols_index_for_a_user_outside_the_data() {
        // 40 users, 30 items, a seeded pattern of ratings.
        let mut rng = 12345u64;
        let mut next = || {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (rng >> 33) as usize
        };
        let titles: Vec<String> = (0..30)
            .map(|i| format!("Film {i} ({})", 1950 + i))
            .collect();
        let names: Vec<&str> = titles.iter().map(String::as_str).collect();
        let ratings: Vec<(u32, usize)> = (0..400)
            .map(|_| ((next() % 40) as u32, next() % 30))
            .collect();
        let ds = dataset(&names, &ratings);
        let table = ItemTable::from_dataset(&ds, "synthetic", None).unwrap();
        let index = CoRatingIndex::new(ds.items.len(), ds.ratings.iter().map(|r| (r.user, r.item)));
        let outsider = ds.users.len() as u32 + 7;
        for c in 0..30usize {
            let history: Vec<usize> = (0..5).map(|k| (c * 7 + k * 11) % 30).collect();
            let ids: Vec<u32> = history
                .iter()
                .map(|&i| ds.item_index(&i.to_string()).unwrap() as u32)
                .collect();
            let hist_titles: Vec<String> = history.iter().map(|&i| format!("Film {i}")).collect();
            let cand = ds.item_index(&c.to_string()).unwrap() as u32;
            let want = index.mean_cosine(cand, &ids, outsider);
            let got = table.similarity_note(&format!("film {c}"), &hist_titles, 7, TENTHS);
            assert_eq!(got.value, Some(want), "candidate {c}");
            assert_eq!(got.tier, similarity_tier(want, 7, TENTHS));
        }
    }

    #[test]
    fn fill_notes_writes_what_the_config_requires() {
        let t = toy();
        let history = ["Alpha (2000)", "Beta (2001)", "Unheard Of (1990)"];
        let cands = [
            ("The Gamma (2002)", None),
            ("Delta", Some("similarity 5/7")),
            ("Nowhere (2020)", Some("  ")),
        ];
        let sim = PromptConfig {
            similarity_tiers: 7,
            ..PromptConfig::default()
        };
        let mut req = request(&history, &cands);
        let report = fill_notes(&mut req, &sim, &t);
        let notes: Vec<_> = req
            .candidates
            .iter()
            .map(|c| c.note.clone().unwrap())
            .collect();
        assert_eq!(
            notes,
            ["similarity 7/7", "similarity 5/7", "similarity 1/7"]
        );
        assert_eq!(report.filled, 2);
        assert_eq!(report.unknown_candidates, ["Nowhere (2020)"]);
        assert_eq!(report.unknown_history, ["Unheard Of (1990)"]);
        assert_eq!(
            report.unknown_titles(),
            ["Unheard Of (1990)", "Nowhere (2020)"]
        );
        crate::prompt::validate(&req, &sim, 26).unwrap();

        // Both kinds: popularity first.
        let both = PromptConfig {
            popularity_tiers: 7,
            ..sim.clone()
        };
        let mut req = request(&history, &cands);
        fill_notes(&mut req, &both, &t);
        assert_eq!(
            req.candidates[0].note.as_deref(),
            Some("popularity 6/7, similarity 7/7")
        );
        assert_eq!(
            req.candidates[2].note.as_deref(),
            Some("popularity 1/7, similarity 1/7")
        );
        // Popularity only: the history is not looked at.
        let pop = PromptConfig {
            popularity_tiers: 7,
            ..PromptConfig::default()
        };
        let mut req = request(&history, &cands);
        let report = fill_notes(&mut req, &pop, &t);
        assert_eq!(req.candidates[0].note.as_deref(), Some("popularity 6/7"));
        assert!(report.unknown_history.is_empty());

        // Only the history the prompt shows counts: with L = 1, only "Unheard Of" — unknown.
        let short = PromptConfig {
            max_history: 1,
            ..sim.clone()
        };
        let mut req = request(&history, &cands);
        fill_notes(&mut req, &short, &t);
        assert_eq!(req.candidates[0].note.as_deref(), Some("similarity 1/7"));

        // The config's steps per unit cosine, not always tenths.
        let fine = PromptConfig {
            similarity_tiers: 20,
            similarity_steps: 40,
            ..sim.clone()
        };
        let mut req = request(&history, &cands);
        fill_notes(&mut req, &fine, &t);
        let want = t.similarity_note(cands[0].0, &history, 20, 40);
        assert_eq!(want.tier, similarity_tier(want.value.unwrap(), 20, 40));
        assert_eq!(
            req.candidates[0].note.as_deref(),
            Some(want.part("similarity", 20).as_str())
        );

        // No notes required, or every candidate noted: unchanged.
        for (config, cands) in [
            (PromptConfig::default(), &cands[..]),
            (sim.clone(), &[("Delta", Some("similarity 5/7"))][..]),
        ] {
            let mut req = request(&history, cands);
            let before = req.clone();
            assert_eq!(fill_notes(&mut req, &config, &t), NotesReport::default());
            assert_eq!(req, before);
        }
    }

    #[test]
    fn the_table_round_trips_through_json() {
        let t = toy();
        let back = ItemTable::from_json(t.to_json().as_bytes()).unwrap();
        assert_eq!(back.find("the gamma"), Some(2));
        assert_eq!(
            back.similarity_note("Gamma", &["Alpha", "Beta"], 7, TENTHS),
            t.similarity_note("Gamma", &["Alpha", "Beta"], 7, TENTHS)
        );
    }

    /// Two taste groups: users 0–29 rate films 0–9, users 30–59 films 10–19; film 20 is unrated.
    fn two_tastes() -> ItemTable {
        let titles: Vec<String> = (0..21).map(|i| format!("Film {i} (1990)")).collect();
        let titles: Vec<&str> = titles.iter().map(String::as_str).collect();
        let mut ratings = Vec::new();
        for u in 0..60u32 {
            let base = if u < 30 { 0 } else { 10 };
            for k in 0..10 {
                if (u as usize + k) % 4 != 0 {
                    ratings.push((u, base + k));
                }
            }
        }
        ItemTable::from_dataset(&dataset(&titles, &ratings), "tastes", Some((5, 10))).unwrap()
    }

    #[test]
    fn match_notes_follow_the_history_and_round_trip_through_json() {
        let t = two_tastes();
        let back = ItemTable::from_json(t.to_json().as_bytes()).unwrap();
        assert_eq!(
            back.match_model(),
            t.match_model(),
            "stored bytes read back the same"
        );
        let config = PromptConfig {
            match_tiers: 5,
            ..PromptConfig::default()
        };
        check_table(&back, &config).unwrap();
        let history: Vec<String> = (0..6).map(|i| format!("Film {i}")).collect();
        let history: Vec<&str> = history.iter().map(String::as_str).collect();
        let mut req = request(
            &history,
            &[
                ("Film 8", None),
                ("Film 15", None),
                ("Film 20", None),
                ("Unknown", None),
            ],
        );
        let report = fill_notes(&mut req, &config, &back);
        let tier = |i: usize| {
            let note = req.candidates[i].note.clone().unwrap();
            crate::prompt::note_part_tier(&note, "match").unwrap()
        };
        assert_eq!(tier(0).1, 5);
        assert!(
            tier(0).0 > tier(1).0,
            "own taste {:?} vs the other {:?}",
            tier(0),
            tier(1)
        );
        assert_eq!(tier(2), (1, 5), "a film no one rated");
        assert_eq!(tier(3), (1, 5), "a title the table does not know");
        assert_eq!(report.unknown_candidates, ["Unknown"]);
        crate::prompt::validate(&req, &config, 26).unwrap();
    }

    #[test]
    fn a_table_without_match_notes_or_with_other_tiers_is_refused_with_the_command() {
        let config = PromptConfig {
            match_tiers: 20,
            ..PromptConfig::default()
        };
        let none = check_table(&toy(), &config).unwrap_err().to_string();
        assert!(
            none.contains("has none") && none.contains("--match-tiers 20"),
            "{none}"
        );
        let other = check_table(&two_tastes(), &config).unwrap_err().to_string();
        assert!(
            other.contains("in 5 tiers") && other.contains("--match-tiers 20"),
            "{other}"
        );
        check_table(&toy(), &PromptConfig::default()).unwrap();
    }
}
