//! Rating datasets and the ALRO evaluation protocol (METHOD.md §1).
//!
//! Pipeline: a loader ([`movielens`], [`amazon`]) parses bytes into a [`Dataset`] (interned,
//! sorted, duplicates resolved, optional [`kcore`]); the [`protocol`] turns a dataset into
//! [`RankingExample`]s. Nothing here touches the file system, so all of it runs in the browser
//! too; the trainer reads and decompresses files and passes bytes in.

pub mod amazon;
pub mod bpr;
pub mod dataset;
pub mod encoding;
pub mod example;
pub mod fields;
pub mod ids;
pub mod kcore;
pub mod manifest;
pub mod match_note;
pub mod movielens;
pub mod protocol;
pub mod rng;
pub mod similarity;
pub mod stats;
pub mod train_data;

pub use dataset::{Dataset, Item, LoadOptions, LoadReport, Rating};
pub use example::{parse_jsonl, RankingExample, Split};
pub use manifest::Manifest;
pub use protocol::{Protocol, ProtocolConfig, ProtocolCounts, Splits, UserExamples};
pub use stats::DatasetStats;
pub use train_data::TrainData;

/// One input file: a label for messages (usually its path) and its (decompressed) bytes.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
}
