//! The `version` subcommand: the tool's version, and the Packer language level it speaks.

/// Flags of `version`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<u8> {
    println!("cce-image-builder {}", env!("CARGO_PKG_VERSION"));
    Ok(crate::exit::OK)
}
