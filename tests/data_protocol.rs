//! The ALRO protocol on the real MovieLens 100K (skipped with a notice if `../shared/data` is
//! absent): the leakage guarantees of the issue, determinism, and a pinned digest of the test
//! lists so that any change of the candidate lists (on any machine or build) is caught.

use alro_core::data::manifest::sha256_hex;
use alro_core::data::protocol::build_all;
use alro_core::data::{Protocol, ProtocolConfig, Split, Splits};
use alro_tests::ml100k;
use std::collections::{BTreeMap, HashSet};

/// No test or validation item (positive or negative) appears anywhere in a training example of
/// the same user, and no example's history holds an item of its own candidate list.
#[test]
fn no_leakage_on_ml100k() {
    let Some(ds) = ml100k() else { return };
    let (examples, counts) = build_all(&ds, &ProtocolConfig::default(), Splits::ALL).unwrap();
    assert!(
        counts.train > 10_000 && counts.test == 943 && counts.validation == 943,
        "{counts:?}"
    );
    let mut held_out: BTreeMap<&str, HashSet<&str>> = BTreeMap::new();
    for e in examples.iter().filter(|e| e.split != Split::Train) {
        held_out
            .entry(&e.user)
            .or_default()
            .extend(e.candidates.iter().map(|c| c.id.as_str()));
    }
    for e in &examples {
        e.validate().unwrap();
        let cands: HashSet<&str> = e.candidates.iter().map(|c| c.id.as_str()).collect();
        assert!(
            e.history_items.iter().all(|h| !cands.contains(h.as_str())),
            "user {} {}: history item in its own candidates",
            e.user,
            e.split
        );
        if e.split == Split::Train {
            let held = &held_out[e.user.as_str()];
            for id in e
                .history_items
                .iter()
                .map(String::as_str)
                .chain(cands.iter().copied())
            {
                assert!(
                    !held.contains(id),
                    "user {}: held-out item {id} in a training example",
                    e.user
                );
            }
        }
        assert_eq!((e.history.len(), e.candidates.len()), (10, 20));
        assert_eq!(e.relevance.iter().filter(|&&r| r > 0.0).count(), 5);
    }
    // Training windows also end before the validation window in time.
    let p = Protocol::new(&ds, ProtocolConfig::default()).unwrap();
    for u in 0..p.users() {
        let ex = p.user_examples(u, Splits::ALL);
        let val_start = ex
            .validation
            .first()
            .map(|e| e.window_start)
            .unwrap_or(usize::MAX);
        assert!(ex.train.iter().all(|e| e.window_start + 5 <= val_start));
    }
}

/// Same seed → byte-identical JSONL; the test lists are pinned by digest.
#[test]
fn ml100k_lists_are_deterministic_and_pinned() {
    let Some(ds) = ml100k() else { return };
    let jsonl = |seed: u64| {
        let cfg = ProtocolConfig {
            seed,
            ..Default::default()
        };
        let (ex, _) = build_all(&ds, &cfg, Splits::only(Split::Test)).unwrap();
        ex.iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect::<String>()
    };
    let a = jsonl(2024);
    assert_eq!(a, jsonl(2024));
    assert_ne!(a, jsonl(2025));
    assert_eq!(
        sha256_hex(a.as_bytes()),
        PINNED_TEST_JSONL_SHA256,
        "the ML-100K test lists changed"
    );
}

const PINNED_TEST_JSONL_SHA256: &str =
    "9c0cb2849fdb4111db8f69da756c4a8f26f9a5c32fc2589b8ce03bae3f23c013";
