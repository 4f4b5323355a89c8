//! The seven linear projections of a Llama block, named as PEFT and Hugging Face checkpoints
//! name them (`q_proj`, …, `down_proj`): the names LoRA configs, checkpoints and export use.

use super::linear::Linear;
use super::llama::Block;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Projection {
    QProj,
    KProj,
    VProj,
    OProj,
    GateProj,
    UpProj,
    DownProj,
}

impl Projection {
    /// Every projection, in block order (attention, then MLP).
    pub const ALL: [Projection; 7] = [
        Projection::QProj,
        Projection::KProj,
        Projection::VProj,
        Projection::OProj,
        Projection::GateProj,
        Projection::UpProj,
        Projection::DownProj,
    ];

    /// The PEFT module name, e.g. `q_proj`.
    pub fn name(self) -> &'static str {
        match self {
            Projection::QProj => "q_proj",
            Projection::KProj => "k_proj",
            Projection::VProj => "v_proj",
            Projection::OProj => "o_proj",
            Projection::GateProj => "gate_proj",
            Projection::UpProj => "up_proj",
            Projection::DownProj => "down_proj",
        }
    }

    /// The tensor name inside a GGUF block (`blk.N.` + this), e.g. `attn_q.weight`.
    pub fn gguf_tensor(self) -> &'static str {
        match self {
            Projection::QProj => "attn_q.weight",
            Projection::KProj => "attn_k.weight",
            Projection::VProj => "attn_v.weight",
            Projection::OProj => "attn_output.weight",
            Projection::GateProj => "ffn_gate.weight",
            Projection::UpProj => "ffn_up.weight",
            Projection::DownProj => "ffn_down.weight",
        }
    }

    /// The block and projection of a GGUF tensor name, e.g. `blk.3.attn_v.weight` → (3, v_proj).
    pub fn of_gguf_tensor(name: &str) -> Option<(usize, Projection)> {
        let (layer, rest) = name.strip_prefix("blk.")?.split_once('.')?;
        let p = Projection::ALL
            .into_iter()
            .find(|p| p.gguf_tensor() == rest)?;
        Some((layer.parse().ok()?, p))
    }
}

impl std::fmt::Display for Projection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Projection {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Projection::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Projection::ALL.iter().map(|p| p.name()).collect();
                format!("unknown projection {s:?} (expected one of {names:?})")
            })
    }
}

impl Block {
    pub fn projection(&self, p: Projection) -> &Linear {
        let (a, m) = (&self.self_attn, &self.mlp);
        match p {
            Projection::QProj => &a.q_proj,
            Projection::KProj => &a.k_proj,
            Projection::VProj => &a.v_proj,
            Projection::OProj => &a.o_proj,
            Projection::GateProj => &m.gate_proj,
            Projection::UpProj => &m.up_proj,
            Projection::DownProj => &m.down_proj,
        }
    }

    pub fn projection_mut(&mut self, p: Projection) -> &mut Linear {
        let (a, m) = (&mut self.self_attn, &mut self.mlp);
        match p {
            Projection::QProj => &mut a.q_proj,
            Projection::KProj => &mut a.k_proj,
            Projection::VProj => &mut a.v_proj,
            Projection::OProj => &mut a.o_proj,
            Projection::GateProj => &mut m.gate_proj,
            Projection::UpProj => &mut m.up_proj,
            Projection::DownProj => &mut m.down_proj,
        }
    }

    /// Does any projection of this block carry a LoRA adapter?
    pub fn has_lora(&self) -> bool {
        Projection::ALL
            .iter()
            .any(|&p| self.projection(p).lora.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_serialize_as_peft_names() {
        for p in Projection::ALL {
            assert_eq!(p.name().parse::<Projection>().unwrap(), p);
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.name())
            );
        }
        let err = "qproj".parse::<Projection>().unwrap_err();
        assert!(err.contains("qproj") && err.contains("down_proj"), "{err}");
    }

    #[test]
    fn gguf_tensor_names_map_to_block_and_projection() {
        assert_eq!(
            Projection::of_gguf_tensor("blk.3.attn_v.weight"),
            Some((3, Projection::VProj))
        );
        assert_eq!(
            Projection::of_gguf_tensor("blk.12.ffn_down.weight"),
            Some((12, Projection::DownProj))
        );
        assert_eq!(Projection::of_gguf_tensor("blk.0.attn_norm.weight"), None);
        assert_eq!(Projection::of_gguf_tensor("token_embd.weight"), None);
        assert_eq!(Projection::of_gguf_tensor("blk.x.attn_q.weight"), None);
    }
}
