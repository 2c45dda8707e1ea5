//! The `init` subcommand.

/// Flags of `init`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<u8> {
    anyhow::bail!("`init` is not built yet: see the open issues for its status")
}
