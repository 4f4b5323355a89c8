//! Portable, version-proof randomness for the protocol.
//!
//! The candidate lists must be byte-identical on every machine, in the browser (wasm32, where
//! `usize` is 32 bits) and across dependency upgrades. So: one ChaCha8 stream per example, keyed
//! by SHA-256 of (global seed, user id, split, window) — never `DefaultHasher`, whose output may
//! change between Rust releases — and our own bounded-integer and shuffle routines on top of the
//! raw `u32` stream, so a change in `rand`'s sampling algorithms cannot change a list. ChaCha8's
//! output for a given key is fixed by its specification.

use rand::RngCore;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

/// A seeded stream for one example.
pub struct ExampleRng(ChaCha8Rng);

impl ExampleRng {
    /// Key = SHA-256("alro/protocol/v1", seed, user, split, window start), fields
    /// length-prefixed so that no two different inputs hash the same bytes.
    pub fn new(seed: u64, user: &str, split: &str, window_start: usize) -> Self {
        let mut h = Sha256::new();
        for part in [
            b"alro/protocol/v1".as_slice(),
            &seed.to_le_bytes(),
            user.as_bytes(),
            split.as_bytes(),
            &(window_start as u64).to_le_bytes(),
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        ExampleRng(ChaCha8Rng::from_seed(h.finalize().into()))
    }

    /// A uniform integer in `0..n` (`n > 0`), by Lemire's multiply-shift with rejection, so it is
    /// exactly uniform and uses only `u32` draws.
    pub fn below(&mut self, n: u32) -> u32 {
        assert!(n > 0, "below(0)");
        let threshold = n.wrapping_neg() % n; // (2^32 - n) mod n
        loop {
            let m = (self.0.next_u32() as u64) * (n as u64);
            if (m as u32) >= threshold {
                return (m >> 32) as u32;
            }
        }
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i as u32 + 1) as usize;
            xs.swap(i, j);
        }
    }

    /// A uniformly random permutation of `0..n`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        self.shuffle(&mut p);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_stream_different_key_different_stream() {
        let a: Vec<u32> = (0..8)
            .map({
                let mut r = ExampleRng::new(7, "42", "test", 100);
                move |_| r.below(1000)
            })
            .collect();
        let b: Vec<u32> = (0..8)
            .map({
                let mut r = ExampleRng::new(7, "42", "test", 100);
                move |_| r.below(1000)
            })
            .collect();
        let c: Vec<u32> = (0..8)
            .map({
                let mut r = ExampleRng::new(7, "42", "validation", 100);
                move |_| r.below(1000)
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    /// Pins the stream: if this changes, every prepared dataset changes. Bump the key's version
    /// string on purpose, never by accident.
    #[test]
    fn stream_is_pinned() {
        let mut r = ExampleRng::new(2024, "1", "test", 0);
        let got: Vec<u32> = (0..6).map(|_| r.below(20)).collect();
        assert_eq!(got, PINNED);
    }
    const PINNED: [u32; 6] = [12, 17, 8, 11, 2, 7];

    #[test]
    fn below_is_roughly_uniform() {
        let mut r = ExampleRng::new(1, "u", "train", 0);
        let mut counts = [0usize; 5];
        for _ in 0..50_000 {
            counts[r.below(5) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_500..10_500).contains(&c)),
            "{counts:?}"
        );
    }
}
