//! `alro data stats|prepare` (owned by the data issue).

use clap::Subcommand;

#[derive(Subcommand)]
pub enum DataCommand {}

pub fn run(cmd: DataCommand) -> anyhow::Result<()> {
    match cmd {}
}
