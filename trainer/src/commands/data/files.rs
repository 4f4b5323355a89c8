//! Reading input files: whole-file reads, transparent `.xz` / `.gz` decompression, and the
//! SHA-256 of the bytes as stored (what the manifest records).

use alro_core::data::manifest::{sha256_hex, FileDigest};
use anyhow::{bail, Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One input file, decompressed, with the digest of its stored bytes.
pub struct InputFile {
    /// What messages call it: the path as given.
    pub label: String,
    pub bytes: Vec<u8>,
    pub digest: FileDigest,
}

impl InputFile {
    /// Read `path`, decompressing by extension.
    pub fn read(path: &Path) -> Result<InputFile> {
        let stored = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        InputFile::from_stored(&path.display().to_string(), stored)
    }

    /// Wrap stored bytes (from disk or embedded in the binary), decompressing by the label's
    /// extension.
    pub fn from_stored(label: &str, stored: Vec<u8>) -> Result<InputFile> {
        let digest = FileDigest {
            file: label.to_string(),
            bytes: stored.len() as u64,
            sha256: sha256_hex(&stored),
        };
        let bytes = if label.ends_with(".xz") {
            let mut out = Vec::with_capacity(stored.len() * 6);
            lzma_rs::xz_decompress(&mut stored.as_slice(), &mut out)
                .map_err(|e| anyhow::anyhow!("{label}: not a valid .xz file: {e:?}"))?;
            out
        } else if label.ends_with(".gz") {
            let mut out = Vec::with_capacity(stored.len() * 4);
            flate2::read::MultiGzDecoder::new(stored.as_slice())
                .read_to_end(&mut out)
                .with_context(|| format!("{label}: not a valid .gz file"))?;
            out
        } else {
            stored
        };
        Ok(InputFile {
            label: label.to_string(),
            bytes,
            digest,
        })
    }

    pub fn input(&self) -> alro_core::data::Input<'_> {
        alro_core::data::Input {
            name: &self.label,
            bytes: &self.bytes,
        }
    }
}

/// The first of `names` (each tried plain, then `.xz`, then `.gz`) that exists in `dir`.
pub fn find_in(dir: &Path, names: &[&str]) -> Option<PathBuf> {
    names
        .iter()
        .flat_map(|n| ["", ".xz", ".gz"].map(|ext| dir.join(format!("{n}{ext}"))))
        .find(|p| p.is_file())
}

/// Like [`find_in`], with an error that lists what was looked for.
pub fn require_in(dir: &Path, names: &[&str], what: &str) -> Result<PathBuf> {
    if !dir.is_dir() {
        bail!(
            "{} is not a folder (expected the folder holding {what})",
            dir.display()
        );
    }
    find_in(dir, names).with_context(|| {
        format!(
            "{}: no {what} found (looked for {}, optionally .xz or .gz)",
            dir.display(),
            names.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gz_round_trip_and_digest_of_stored_bytes() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"1\t2\t3\t4\n").unwrap();
        let gz = enc.finish().unwrap();
        let f = InputFile::from_stored("u.data.gz", gz.clone()).unwrap();
        assert_eq!(f.bytes, b"1\t2\t3\t4\n");
        assert_eq!(f.digest.sha256, sha256_hex(&gz));
        assert!(InputFile::from_stored("x.xz", b"not xz".to_vec()).is_err());
    }
}
