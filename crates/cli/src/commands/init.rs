//! The `init` subcommand: reads `packer { required_version, required_plugins }` and says whether
//! the built-in huaweicloud builder satisfies it. It downloads nothing; an unknown plugin is an
//! error. `required_version` is checked against the Packer language level we implement (1.7.2).

use std::path::PathBuf;

use cce_template::load::LoadOptions;
use cce_template::plugins::{check, requirements};

use crate::exit;

/// Flags of `init`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Accepted for compatibility with Packer; there is nothing to upgrade.
    #[arg(long = "upgrade")]
    pub upgrade: bool,
    /// A .pkr.hcl file or a folder holding them.
    pub path: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let opts = LoadOptions {
        path: args.path,
        cwd: std::env::current_dir().unwrap_or_default(),
        env: std::env::vars().collect(),
        ..Default::default()
    };
    let (sources, req) = match requirements(&opts) {
        Ok(r) => r,
        Err(e) => {
            eprint!("{}", e.diagnostics.render(&e.sources));
            return Ok(exit::FAILED);
        }
    };
    let (ok, diags) = check(&req);
    if !diags.is_empty() {
        eprint!("{}", diags.render(&sources));
    }
    if diags.has_errors() {
        return Ok(exit::FAILED);
    }
    if req.plugins.is_empty() {
        println!("No plugins requirement found: the template has no packer.required_plugins block. Nothing to do.");
        return Ok(exit::OK);
    }
    for s in &ok {
        let constraint = s.constraint.as_deref().map(|c| format!(" satisfies \"{c}\"")).unwrap_or_default();
        let version = if s.line == cce_template::plugins::HUAWEICLOUD_VERSION {
            format!("version {}", s.line)
        } else {
            format!("plugin line {}", s.line)
        };
        println!("{} ({}): built in, {version}{constraint}", s.name, s.source);
    }
    println!("Nothing to download: every required plugin is built into cce-image-builder.");
    Ok(exit::OK)
}
