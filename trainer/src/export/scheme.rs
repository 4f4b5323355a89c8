//! Which GGUF tensor type each tensor gets under each export scheme.
//!
//! The rule follows `llama-quantize`'s choices for the same names, so llama.cpp users find what
//! they expect:
//!
//! | tensor | F16 | Q8_0 | Q4_0 | Q4_K |
//! |---|---|---|---|---|
//! | norms, `rope_freqs` (1-D) | F32 | F32 | F32 | F32 |
//! | `token_embd`, `output` | F16 | Q8_0 | Q6_K¹ | Q6_K¹ |
//! | attention and MLP projections | F16 | Q8_0 | Q4_0 | Q4_K² |
//!
//! ¹ llama.cpp keeps the embedding/output matrix (one and the same when tied, as in SmolLM2) at
//!   6 bits because every logit goes through it; like llama.cpp, a row length that is not a
//!   multiple of 256 (the K-quant super-block) falls back to Q8_0 — SmolLM2-135M's 576 does.
//! ² Q4_K needs rows that are a multiple of 256; other rows fall back to Q5_0, llama.cpp's
//!   fallback (SmolLM2-135M: `ffn_down`, 1536 wide, is Q4_K; the 576-wide ones are Q5_0).

use candle_core::quantized::GgmlDType;
use clap::ValueEnum;
use std::fmt;

/// An export scheme (the user's `--quant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub enum Scheme {
    #[value(name = "f16")]
    F16,
    #[value(name = "q8_0")]
    Q8_0,
    #[value(name = "q4_0")]
    Q4_0,
    #[value(name = "q4_k")]
    Q4K,
}

/// What a tensor is, as far as the type rule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Norm weights, rope frequency factors.
    Vector,
    /// Token embedding or output (LM head) matrix.
    Embedding,
    /// A projection inside a block.
    Projection,
}

impl Scheme {
    pub const ALL: [Scheme; 4] = [Scheme::F16, Scheme::Q8_0, Scheme::Q4_0, Scheme::Q4K];

    /// Short name used in file names and tables (`q8_0`).
    pub fn slug(self) -> &'static str {
        match self {
            Scheme::F16 => "f16",
            Scheme::Q8_0 => "q8_0",
            Scheme::Q4_0 => "q4_0",
            Scheme::Q4K => "q4_k",
        }
    }

    /// llama.cpp's `general.file_type` (`LLAMA_FTYPE_MOSTLY_*`) for the scheme.
    pub fn file_type(self) -> u32 {
        match self {
            Scheme::F16 => 1,
            Scheme::Q4_0 => 2,
            Scheme::Q8_0 => 7,
            Scheme::Q4K => 14, // MOSTLY_Q4_K_S: Q4_K projections without Q4_K_M's Q6_K layers
        }
    }

    /// The stored type of a tensor of `role` whose rows have `cols` elements.
    pub fn tensor_type(self, role: Role, cols: usize) -> GgmlDType {
        let fits = |t: GgmlDType| cols % t.block_size() == 0;
        let pick = |want: GgmlDType, fallback: GgmlDType| {
            if fits(want) {
                want
            } else if fits(fallback) {
                fallback
            } else {
                GgmlDType::F16
            }
        };
        match (role, self) {
            (Role::Vector, _) => GgmlDType::F32,
            (_, Scheme::F16) => GgmlDType::F16,
            (_, Scheme::Q8_0) => pick(GgmlDType::Q8_0, GgmlDType::F16),
            (Role::Embedding, Scheme::Q4_0 | Scheme::Q4K) => pick(GgmlDType::Q6K, GgmlDType::Q8_0),
            (Role::Projection, Scheme::Q4_0) => pick(GgmlDType::Q4_0, GgmlDType::Q8_0),
            (Role::Projection, Scheme::Q4K) => pick(GgmlDType::Q4K, GgmlDType::Q5_0),
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::F16 => "F16",
            Scheme::Q8_0 => "Q8_0",
            Scheme::Q4_0 => "Q4_0",
            Scheme::Q4K => "Q4_K",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_llama_cpp_with_its_fallbacks() {
        use GgmlDType as T;
        // SmolLM2-135M: hidden 576 (not a multiple of 256), intermediate 1536 (one).
        assert_eq!(Scheme::Q4K.tensor_type(Role::Projection, 576), T::Q5_0);
        assert_eq!(Scheme::Q4K.tensor_type(Role::Projection, 1536), T::Q4K);
        assert_eq!(Scheme::Q4K.tensor_type(Role::Embedding, 576), T::Q8_0);
        assert_eq!(Scheme::Q4_0.tensor_type(Role::Embedding, 2048), T::Q6K);
        assert_eq!(Scheme::Q4_0.tensor_type(Role::Projection, 576), T::Q4_0);
        assert_eq!(Scheme::Q8_0.tensor_type(Role::Embedding, 576), T::Q8_0);
        assert_eq!(Scheme::F16.tensor_type(Role::Projection, 576), T::F16);
        for s in Scheme::ALL {
            assert_eq!(s.tensor_type(Role::Vector, 576), T::F32);
            // A row no block fits stays exact-ish rather than failing.
            assert_eq!(s.tensor_type(Role::Projection, 17), T::F16);
        }
    }
}
