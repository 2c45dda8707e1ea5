//! The `console` subcommand: evaluates HCL expressions against a template, as `packer console`
//! does. Lines piped on stdin are evaluated in turn and the last result is printed (an error
//! stops at once, exit 1); on a terminal each result is printed after a `> ` prompt and an error
//! does not end the session (`exit` or end of input does). The values of sensitive variables
//! and locals are shown as `<sensitive>`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use cce_engine::redact::Redactor;
use cce_template::console::ConsoleScope;
use cce_template::diag::SourceMap;

use super::validate::{VarArgs, load_or_exit};
use crate::exit;

/// Flags of `console`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Packer's choice of template language; only hcl2 is spoken here.
    #[arg(long = "config-type", value_name = "hcl2", default_value = "hcl2")]
    pub config_type: String,
    /// A .pkr.hcl file or a folder holding them; without one, only functions are in scope.
    pub path: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    if args.config_type != "hcl2" {
        eprintln!(
            "error: -config-type={} is not supported: templates are HCL2 (.pkr.hcl)",
            args.config_type
        );
        return Ok(exit::USAGE);
    }
    let redactor = Redactor::new();
    let mut sensitive = Vec::new();
    let scope = match &args.path {
        Some(path) => {
            let opts = match args.vars.options_or_exit(path.clone()) {
                Ok(o) => o,
                Err(code) => return Ok(code),
            };
            let loaded = match load_or_exit(&opts) {
                Ok(l) => l,
                Err(code) => return Ok(code),
            };
            for s in &loaded.sensitive_values {
                // Too short to redact inside text: still hidden when it is the whole answer.
                let _ = redactor.add(s);
                sensitive.push(s.clone());
            }
            ConsoleScope::of(&loaded)
        }
        None => ConsoleScope::default(),
    };
    let show = |value: String| -> String {
        if sensitive.contains(&value) {
            "<sensitive>".to_string()
        } else {
            redactor.redact(&value).into_owned()
        }
    };
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut out = std::io::stdout().lock();
    let mut sources = SourceMap::default();
    let mut last = String::new();
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            write!(out, "> ")?;
            out.flush()?;
        }
        let Some(line) = lines.next() else { break };
        let line = line?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if interactive && line == "exit" {
            break;
        }
        match scope.eval_line(line, &mut sources) {
            Ok(value) if interactive => writeln!(out, "{}", show(value))?,
            Ok(value) => last = value,
            Err(diags) => {
                eprint!("{}", redactor.redact(&diags.render(&sources)));
                eprintln!();
                if !interactive {
                    return Ok(exit::FAILED);
                }
            }
        }
    }
    if !interactive {
        writeln!(out, "{}", show(last))?;
    }
    Ok(exit::OK)
}
