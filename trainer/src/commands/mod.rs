//! One module per subcommand: argument struct + `run`.

pub mod data;
pub mod eval;
pub mod export;
pub mod inspect;
pub mod items;
pub mod mode;
pub mod plot;
pub mod progress;
pub mod rank;
pub mod train;
