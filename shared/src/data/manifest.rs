//! `manifest.json` of a prepared directory: enough to know exactly what produced the examples
//! (inputs by SHA-256, loader options, protocol parameters) and to check the outputs.

use super::dataset::{LoadOptions, LoadReport};
use super::protocol::{ProtocolConfig, ProtocolCounts};
use super::stats::DatasetStats;
use serde::{Deserialize, Serialize};

/// Version of the prepared-examples format. Bump on any incompatible change of
/// [`super::RankingExample`] or of the protocol's sampling.
pub const FORMAT: &str = "alro-examples/1";

/// One file, by name, size and SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub dataset: String,
    /// The input files as read (compressed files are hashed as stored).
    pub inputs: Vec<FileDigest>,
    pub load: LoadOptions,
    pub load_report: LoadReport,
    pub protocol: ProtocolConfig,
    pub stats: DatasetStats,
    pub examples: ProtocolCounts,
    /// The JSONL files written, one per split.
    pub outputs: Vec<FileDigest>,
}

/// Lower-case hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
