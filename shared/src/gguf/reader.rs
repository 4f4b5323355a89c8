//! Bounds-checked GGUF parsing (versions 2 and 3, little-endian).

use super::value::{GgufValue, ValueType};
use super::{ggml_dtype_from_id, DEFAULT_ALIGNMENT, MAGIC};
use crate::{Error, Result};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Device;
use std::collections::BTreeMap;

/// Caps on what a header may ask for, on top of "no more than the file holds". The defaults fit
/// every Llama-family GGUF we know of (vocabularies up to 256k tokens, 128k context) with room.
#[derive(Debug, Clone)]
pub struct ReadLimits {
    pub max_metadata_entries: u64,
    pub max_array_len: u64,
    pub max_string_len: u64,
    /// Total array elements over the whole header (each costs ~40 bytes in memory even when it
    /// is one byte on disk, so this bounds the header's memory amplification).
    pub max_total_array_elements: u64,
    pub max_tensors: u64,
    pub max_dims: u32,
    /// Largest model (sum of tensor data bytes) we agree to load.
    pub max_tensor_bytes: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_metadata_entries: 65_536,
            max_array_len: 4 << 20,
            max_string_len: 64 << 20,
            max_total_array_elements: 16 << 20,
            max_tensors: 65_536,
            max_dims: 4,
            max_tensor_bytes: 64 << 30,
        }
    }
}

/// One tensor's descriptor. `shape` is in candle order (outermost first), i.e. the reverse of
/// ggml's `ne`: a Linear weight is `(out_features, in_features)`.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: GgmlDType,
    /// Offset of the data relative to the start of the data section.
    pub offset: u64,
    /// Size of the data in bytes (validated to lie inside the file).
    pub size_bytes: u64,
}

/// A parsed GGUF header. Tensor data stays in the caller's buffer; [`GgufFile::tensor`] reads it.
#[derive(Debug, Clone)]
pub struct GgufFile {
    /// What to call the file in errors (usually its path).
    pub source_name: String,
    pub version: u32,
    pub metadata: BTreeMap<String, GgufValue>,
    pub tensors: Vec<TensorInfo>,
    pub alignment: u64,
    /// Absolute offset of the data section in the file.
    pub data_start: u64,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    source_name: &'a str,
}

impl<'a> Cursor<'a> {
    fn err(&self, message: impl Into<String>) -> Error {
        Error::model(self.source_name, message)
    }

    fn remaining(&self) -> u64 {
        (self.bytes.len() - self.pos) as u64
    }

    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.err(format!(
                "truncated: {what} needs {n} bytes at offset {} but the file has {} bytes",
                self.pos,
                self.bytes.len()
            )));
        }
        let n = n as usize;
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let s = self.take(N as u64, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn string(&mut self, limits: &ReadLimits, what: &str) -> Result<String> {
        let len = self.u64(what)?;
        if len > limits.max_string_len {
            return Err(self.err(format!(
                "{what}: string length {len} exceeds the limit of {} bytes",
                limits.max_string_len
            )));
        }
        let raw = self.take(len, what)?;
        String::from_utf8(raw.to_vec())
            .map_err(|_| self.err(format!("{what}: string is not valid UTF-8")))
    }
}

impl GgufFile {
    /// Parses the header of `bytes` (the whole file) with default limits.
    pub fn parse(bytes: &[u8], source_name: &str) -> Result<Self> {
        Self::parse_with_limits(bytes, source_name, &ReadLimits::default())
    }

    pub fn parse_with_limits(bytes: &[u8], source_name: &str, limits: &ReadLimits) -> Result<Self> {
        let mut c = Cursor {
            bytes,
            pos: 0,
            source_name,
        };
        if bytes.len() < 4 {
            return Err(c.err(format!("not a GGUF file: only {} bytes", bytes.len())));
        }
        let magic = c.u32("magic")?;
        if magic != MAGIC {
            if magic.swap_bytes() == MAGIC {
                return Err(c.err("big-endian GGUF files are not supported"));
            }
            return Err(c.err(format!(
                "not a GGUF file: magic bytes are {:02x?}, expected \"GGUF\"",
                &bytes[..4]
            )));
        }
        let version = c.u32("version")?;
        if !(2..=3).contains(&version) {
            return Err(c.err(format!(
                "unsupported GGUF version {version} (supported: 2, 3)"
            )));
        }
        let tensor_count = c.u64("tensor count")?;
        let kv_count = c.u64("metadata count")?;
        if kv_count > limits.max_metadata_entries {
            return Err(c.err(format!(
                "header claims {kv_count} metadata entries (limit {})",
                limits.max_metadata_entries
            )));
        }
        if tensor_count > limits.max_tensors {
            return Err(c.err(format!(
                "header claims {tensor_count} tensors (limit {})",
                limits.max_tensors
            )));
        }

        let mut budget = limits.max_total_array_elements;
        let mut metadata = BTreeMap::new();
        for i in 0..kv_count {
            let key = c.string(limits, &format!("metadata key #{i}"))?;
            let type_id = c.u32(&format!("type of metadata `{key}`"))?;
            let ty = ValueType::from_id(type_id).ok_or_else(|| {
                c.err(format!("metadata `{key}` has unknown value type {type_id}"))
            })?;
            let value = read_value(&mut c, ty, limits, &mut budget, &key, 0)?;
            if metadata.insert(key.clone(), value).is_some() {
                return Err(c.err(format!("metadata key `{key}` appears twice")));
            }
        }

        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(v) => match v.as_u64() {
                Some(a) if a.is_power_of_two() && a <= 1 << 20 => a,
                _ => return Err(c.err(format!("general.alignment {v:?} is not a power of two"))),
            },
        };

        // Each descriptor is at least 8 (name len) + 4 (n_dims) + 4 (type) + 8 (offset) bytes:
        // reject impossible counts before reserving memory for them.
        if tensor_count.saturating_mul(24) > c.remaining() {
            return Err(c.err(format!(
                "header claims {tensor_count} tensors but only {} bytes remain",
                c.remaining()
            )));
        }
        let mut infos = Vec::with_capacity(tensor_count as usize);
        for i in 0..tensor_count {
            let name = c.string(limits, &format!("name of tensor #{i}"))?;
            let n_dims = c.u32(&format!("rank of tensor `{name}`"))?;
            if n_dims == 0 || n_dims > limits.max_dims {
                return Err(c.err(format!(
                    "tensor `{name}` has {n_dims} dimensions (supported: 1..={})",
                    limits.max_dims
                )));
            }
            let mut ne = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                ne.push(c.u64(&format!("shape of tensor `{name}`"))?);
            }
            let type_id = c.u32(&format!("type of tensor `{name}`"))?;
            let offset = c.u64(&format!("offset of tensor `{name}`"))?;
            let dtype = ggml_dtype_from_id(type_id).ok_or_else(|| {
                c.err(format!(
                    "tensor `{name}` has unsupported ggml type {type_id}"
                ))
            })?;
            let elements = ne
                .iter()
                .try_fold(1u64, |acc, &d| acc.checked_mul(d))
                .filter(|&n| n <= 1 << 40)
                .ok_or_else(|| c.err(format!("tensor `{name}` has an absurd shape {ne:?}")))?;
            let block = dtype.block_size() as u64;
            if ne[0] % block != 0 {
                return Err(c.err(format!(
                    "tensor `{name}`: first dimension {} is not a multiple of the {dtype:?} block size {block}",
                    ne[0]
                )));
            }
            let size_bytes = elements / block * dtype.type_size() as u64;
            if offset % alignment != 0 {
                return Err(c.err(format!(
                    "tensor `{name}` data offset {offset} is not aligned to {alignment}"
                )));
            }
            let shape = ne.iter().rev().map(|&d| d as usize).collect();
            infos.push(TensorInfo {
                name,
                shape,
                dtype,
                offset,
                size_bytes,
            });
        }

        let data_start = (c.pos as u64).div_ceil(alignment) * alignment;
        let data_len = (bytes.len() as u64).saturating_sub(data_start);
        let mut total = 0u64;
        let mut seen = std::collections::BTreeSet::new();
        for t in &infos {
            if !seen.insert(t.name.as_str()) {
                return Err(c.err(format!("tensor `{}` appears twice", t.name)));
            }
            let end = t.offset.checked_add(t.size_bytes);
            if end.is_none_or(|end| end > data_len) {
                return Err(c.err(format!(
                    "truncated or corrupt: tensor `{}` ({:?}, shape {:?}) needs bytes {}..{} of the data section, which has only {data_len} bytes",
                    t.name, t.dtype, t.shape, t.offset, t.offset.saturating_add(t.size_bytes)
                )));
            }
            total += t.size_bytes;
        }
        if total > limits.max_tensor_bytes {
            return Err(c.err(format!(
                "model holds {total} bytes of tensors, above the configured limit of {}",
                limits.max_tensor_bytes
            )));
        }

        Ok(GgufFile {
            source_name: source_name.to_string(),
            version,
            metadata,
            tensors: infos,
            alignment,
            data_start,
        })
    }

    pub fn tensor_info(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The raw bytes of a tensor (validated to lie within `bytes` at parse time).
    pub fn tensor_data<'a>(&self, bytes: &'a [u8], info: &TensorInfo) -> Result<&'a [u8]> {
        let start = self.data_start + info.offset;
        let end = start + info.size_bytes;
        bytes.get(start as usize..end as usize).ok_or_else(|| {
            Error::model(
                &self.source_name,
                format!("tensor `{}` lies outside the buffer", info.name),
            )
        })
    }

    /// Loads the named tensor, still quantized, onto `device`.
    pub fn tensor(&self, bytes: &[u8], name: &str, device: &Device) -> Result<QTensor> {
        let info = self
            .tensor_info(name)
            .ok_or_else(|| Error::model(&self.source_name, format!("missing tensor `{name}`")))?;
        let raw = self.tensor_data(bytes, info)?;
        // candle reinterprets the bytes as blocks in place; blocks hold f16/f32 fields, so the
        // start must be aligned for them. Files are 32-byte aligned, a caller's buffer may not be.
        let aligned: Vec<u64>;
        let raw = if (raw.as_ptr() as usize) % 8 == 0 {
            raw
        } else {
            let mut buf = vec![0u64; raw.len().div_ceil(8)];
            // SAFETY: `buf` owns at least raw.len() bytes; u64 has no invalid bit patterns.
            let dst =
                unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr() as *mut u8, raw.len()) };
            dst.copy_from_slice(raw);
            aligned = buf;
            // SAFETY: as above, reading back the bytes just written.
            unsafe { std::slice::from_raw_parts(aligned.as_ptr() as *const u8, raw.len()) }
        };
        Ok(candle_core::quantized::ggml_file::qtensor_from_ggml(
            info.dtype,
            raw,
            info.shape.clone(),
            device,
        )?)
    }

    // ---- typed metadata accessors; errors name the key ----

    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.metadata.get(key)
    }

    pub fn get_str(&self, key: &str) -> Result<&str> {
        self.get(key)
            .ok_or_else(|| self.missing(key))?
            .as_str()
            .ok_or_else(|| self.wrong_type(key, "a string"))
    }

    pub fn get_u64(&self, key: &str) -> Result<u64> {
        self.get(key)
            .ok_or_else(|| self.missing(key))?
            .as_u64()
            .ok_or_else(|| self.wrong_type(key, "a non-negative integer"))
    }

    pub fn get_f64(&self, key: &str) -> Result<f64> {
        self.get(key)
            .ok_or_else(|| self.missing(key))?
            .as_f64()
            .ok_or_else(|| self.wrong_type(key, "a number"))
    }

    pub fn get_array(&self, key: &str) -> Result<&[GgufValue]> {
        self.get(key)
            .ok_or_else(|| self.missing(key))?
            .as_array()
            .ok_or_else(|| self.wrong_type(key, "an array"))
    }

    fn missing(&self, key: &str) -> Error {
        Error::model(&self.source_name, format!("missing metadata key `{key}`"))
    }

    fn wrong_type(&self, key: &str, expected: &str) -> Error {
        Error::model(
            &self.source_name,
            format!("metadata `{key}` is not {expected}"),
        )
    }
}

fn read_value(
    c: &mut Cursor<'_>,
    ty: ValueType,
    limits: &ReadLimits,
    budget: &mut u64,
    key: &str,
    depth: u32,
) -> Result<GgufValue> {
    let what = &format!("metadata `{key}`");
    Ok(match ty {
        ValueType::U8 => GgufValue::U8(c.array::<1>(what)?[0]),
        ValueType::I8 => GgufValue::I8(c.array::<1>(what)?[0] as i8),
        ValueType::U16 => GgufValue::U16(u16::from_le_bytes(c.array(what)?)),
        ValueType::I16 => GgufValue::I16(i16::from_le_bytes(c.array(what)?)),
        ValueType::U32 => GgufValue::U32(c.u32(what)?),
        ValueType::I32 => GgufValue::I32(i32::from_le_bytes(c.array(what)?)),
        ValueType::F32 => GgufValue::F32(f32::from_le_bytes(c.array(what)?)),
        ValueType::Bool => match c.array::<1>(what)?[0] {
            0 => GgufValue::Bool(false),
            1 => GgufValue::Bool(true),
            b => return Err(c.err(format!("{what}: invalid bool byte {b}"))),
        },
        ValueType::String => GgufValue::String(c.string(limits, what)?),
        ValueType::U64 => GgufValue::U64(c.u64(what)?),
        ValueType::I64 => GgufValue::I64(i64::from_le_bytes(c.array(what)?)),
        ValueType::F64 => GgufValue::F64(f64::from_le_bytes(c.array(what)?)),
        ValueType::Array => {
            if depth >= 2 {
                return Err(c.err(format!("{what}: arrays nested too deeply")));
            }
            let elem_id = c.u32(what)?;
            let elem = ValueType::from_id(elem_id)
                .ok_or_else(|| c.err(format!("{what}: unknown array element type {elem_id}")))?;
            let len = c.u64(what)?;
            if len > limits.max_array_len || len > *budget {
                return Err(c.err(format!(
                    "{what}: array of {len} elements exceeds the limit of {}",
                    limits.max_array_len.min(*budget)
                )));
            }
            if len.saturating_mul(elem.min_encoded_size()) > c.remaining() {
                return Err(c.err(format!(
                    "truncated: {what} claims {len} elements but only {} bytes remain",
                    c.remaining()
                )));
            }
            *budget -= len;
            let mut items = Vec::with_capacity(len as usize);
            for _ in 0..len {
                items.push(read_value(c, elem, limits, budget, key, depth + 1)?);
            }
            GgufValue::Array(elem, items)
        }
    })
}
