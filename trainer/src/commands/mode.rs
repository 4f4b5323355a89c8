//! `--mode` of `alro rank` and `alro eval`: the ranking modes of `alro_core::rank::RankMode`,
//! named on the command line (bootstrap's orders and seed are flags of their own).

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Constrained greedy decoding of the whole list.
    Greedy,
    /// Rank by the first-position distribution (one forward pass; the default).
    Single,
    /// Borda count over several presentation orders (costly).
    Bootstrap,
}
