//! `alro eval` (owned by the data issue: baselines first).

use clap::Args;

#[derive(Args)]
pub struct EvalArgs {}

pub fn run(_args: EvalArgs) -> anyhow::Result<()> {
    anyhow::bail!("alro eval is not implemented yet")
}
