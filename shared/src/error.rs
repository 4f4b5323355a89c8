//! One error type for the core library. Every variant says what went wrong in words a user can
//! act on; file-level errors carry the path (or the caller's label for in-memory bytes).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// A model file is malformed, truncated, hostile or of an unsupported kind.
    #[error("model file {source_name}: {message}")]
    Model {
        source_name: String,
        message: String,
    },

    /// The tokenizer could not be built or used.
    #[error("tokenizer: {0}")]
    Tokenizer(String),

    /// A ranking request was rejected before any computation.
    #[error("invalid request: {0}")]
    Request(String),

    /// A data file is malformed. `line` is 1-based.
    #[error("{file}:{line}: {message}")]
    Data {
        file: String,
        line: usize,
        message: String,
    },

    /// Any other input the caller gave is out of range.
    #[error("{0}")]
    Invalid(String),

    #[error("i/o error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// A ranking backend that runs the model elsewhere (WebGPU) failed; its own words.
    #[error("{0}")]
    Backend(String),

    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn model(source_name: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Model {
            source_name: source_name.into(),
            message: message.into(),
        }
    }
    pub fn data(file: impl Into<String>, line: usize, message: impl Into<String>) -> Self {
        Error::Data {
            file: file.into(),
            line,
            message: message.into(),
        }
    }
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}
