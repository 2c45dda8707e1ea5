//! The `fmt` subcommand.

/// Flags of `fmt`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<u8> {
    anyhow::bail!("`fmt` is not built yet: see the open issues for its status")
}
