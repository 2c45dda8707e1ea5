//! The `builds` subcommand: the builds this machine has journaled, oldest first (newest last),
//! with their status (running, succeeded, failed, interrupted, or crashed when no process holds
//! an unfinished journal), how many resources each still holds, so the user knows what
//! `cleanup` has to do, and the images a finished build delivered.

use std::collections::HashMap;
use std::io::Write;

use anyhow::Context;
use cce_engine::ledger::{self, BuildSummary};

use crate::exit;

/// Flags of `builds`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// One JSON object per build and line.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let env: HashMap<String, String> = std::env::vars().collect();
    run_with(&args, &env, &mut std::io::stdout().lock())
}

/// `builds` with an injected environment and output.
pub fn run_with(
    args: &Args,
    env: &HashMap<String, String>,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    let root = ledger::state_root(env);
    let builds = ledger::list_builds(&root)
        .with_context(|| format!("cannot list the builds under {}", root.display()))?;
    if args.json {
        for b in &builds {
            let line = serde_json::to_string(b).context("cannot encode a build")?;
            writeln!(out, "{line}").context("cannot write to stdout")?;
        }
        return Ok(exit::OK);
    }
    if builds.is_empty() {
        writeln!(out, "no builds under {}", root.display()).context("cannot write to stdout")?;
        return Ok(exit::OK);
    }
    write!(out, "{}", table(&builds)).context("cannot write to stdout")?;
    let leftovers = builds
        .iter()
        .filter(|b| b.outstanding > 0 && b.status != ledger::BuildStatus::Running)
        .count();
    if leftovers > 0 {
        writeln!(
            out,
            "\n{leftovers} stopped build(s) left resources: run `cce-image-builder cleanup --all`"
        )
        .context("cannot write to stdout")?;
    }
    Ok(exit::OK)
}

/// The builds as an aligned text table.
fn table(builds: &[BuildSummary]) -> String {
    let rows: Vec<[String; 6]> = builds
        .iter()
        .map(|b| {
            let mut status = b.status.to_string();
            if b.corrupt_lines > 0 {
                status.push_str(&format!(" ({} bad lines)", b.corrupt_lines));
            }
            [
                b.id.clone(),
                b.started.clone().unwrap_or_else(|| "-".into()),
                status,
                b.template.clone().unwrap_or_else(|| "-".into()),
                b.outstanding.to_string(),
                if b.artifacts.is_empty() {
                    "-".into()
                } else {
                    b.artifacts.join(",")
                },
            ]
        })
        .collect();
    let head = [
        "ID",
        "STARTED",
        "STATUS",
        "TEMPLATE",
        "OUTSTANDING",
        "IMAGES",
    ];
    let mut widths = head.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for cells in std::iter::once(head.map(str::to_owned)).chain(rows) {
        let line: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
