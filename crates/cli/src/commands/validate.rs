//! The `validate` subcommand.

/// Flags of `validate`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<u8> {
    anyhow::bail!("`validate` is not built yet: see the open issues for its status")
}
