//! Packer users type `-var`, `-on-error=abort`, `-only=a,b`: this module rewrites a single-dash
//! long flag into clap's double-dash form before parsing. Only names that some command of ours
//! declares as a long flag are rewritten, so a value such as `-1` or a file named `-x` is left alone.

use std::collections::HashSet;
use std::ffi::OsString;

/// Collects every long flag name declared anywhere in the command tree.
fn long_names(cmd: &clap::Command, out: &mut HashSet<String>) {
    for arg in cmd.get_arguments() {
        if let Some(l) = arg.get_long() {
            out.insert(l.to_string());
        }
        if let Some(aliases) = arg.get_all_aliases() {
            out.extend(aliases.into_iter().map(str::to_string));
        }
    }
    out.insert("help".into());
    out.insert("version".into());
    for sub in cmd.get_subcommands() {
        long_names(sub, out);
    }
}

/// Rewrites `-name` and `-name=value` into `--name` / `--name=value` where `name` is a known long
/// flag. Arguments after a bare `--` are never touched.
pub fn normalize(args: Vec<OsString>, cmd: &clap::Command) -> Vec<OsString> {
    let mut names = HashSet::new();
    long_names(cmd, &mut names);
    let mut out = Vec::with_capacity(args.len());
    let mut passthrough = false;
    let mut expect_value = false;
    for (i, arg) in args.into_iter().enumerate() {
        if i == 0 || passthrough {
            out.push(arg);
            continue;
        }
        let Some(s) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if s == "--" {
            passthrough = true;
            out.push(arg);
            continue;
        }
        if expect_value {
            // The value of a flag that takes one is never itself a flag (`-var -x=1` keeps `-x=1`).
            expect_value = false;
            out.push(arg);
            continue;
        }
        if let Some(rest) = s.strip_prefix('-').filter(|r| !r.starts_with('-')) {
            let name = rest.split('=').next().unwrap_or(rest);
            if name.len() > 1 && names.contains(name) {
                expect_value = !rest.contains('=') && takes_value(cmd, name);
                out.push(OsString::from(format!("--{rest}")));
                continue;
            }
        }
        if let Some(rest) = s.strip_prefix("--") {
            let name = rest.split('=').next().unwrap_or(rest);
            expect_value = !rest.contains('=') && takes_value(cmd, name);
        }
        out.push(arg);
    }
    out
}

/// The first argument, after normalizing, that looks like a Packer-style long flag (`-name`,
/// `-name=value`) but is no flag of ours: what an "unexpected argument" error is about.
pub fn unknown_single_dash(args: &[OsString]) -> Option<String> {
    args.iter().skip(1).take_while(|a| *a != "--").find_map(|a| {
        let s = a.to_str()?;
        let rest = s.strip_prefix('-').filter(|r| !r.starts_with('-'))?;
        let name = rest.split('=').next().unwrap_or(rest);
        let wordlike = name.len() > 1
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        wordlike.then(|| format!("-{name}"))
    })
}

/// Whether the long flag `name` needs a value in any command that declares it. A flag whose
/// value is optional (`-write`, `-write=false`) never swallows the next argument.
fn takes_value(cmd: &clap::Command, name: &str) -> bool {
    let own = cmd.get_arguments().any(|a| {
        a.get_long() == Some(name)
            && a.get_action().takes_values()
            && a.get_num_args().is_none_or(|r| r.min_values() > 0)
    });
    own || cmd.get_subcommands().any(|s| takes_value(s, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction, Command};

    fn cmd() -> Command {
        Command::new("t").subcommand(
            Command::new("build")
                .arg(Arg::new("var").long("var").action(ArgAction::Append))
                .arg(Arg::new("on-error").long("on-error"))
                .arg(Arg::new("force").long("force").action(ArgAction::SetTrue))
                .arg(Arg::new("write").long("write").num_args(0..=1).default_missing_value("true"))
                .arg(Arg::new("path")),
        )
    }

    fn norm(v: &[&str]) -> Vec<String> {
        let args = v.iter().map(OsString::from).collect();
        normalize(args, &cmd()).into_iter().map(|s| s.into_string().unwrap()).collect()
    }

    #[test]
    fn single_dash_long_flags_become_double_dash() {
        assert_eq!(
            norm(&["t", "build", "-var", "a=1", "-on-error=abort", "-force", "x.pkr.hcl"]),
            ["t", "build", "--var", "a=1", "--on-error=abort", "--force", "x.pkr.hcl"]
        );
    }

    #[test]
    fn unknown_names_and_values_are_left_alone() {
        assert_eq!(norm(&["t", "build", "-var", "-x=1", "-zzz"]), ["t", "build", "--var", "-x=1", "-zzz"]);
        assert_eq!(norm(&["t", "build", "--", "-force"]), ["t", "build", "--", "-force"]);
        assert_eq!(norm(&["t", "build", "--var", "-force"]), ["t", "build", "--var", "-force"]);
    }

    #[test]
    fn an_unknown_packer_style_flag_is_found_whole() {
        let args = |v: &[&str]| normalize(v.iter().map(OsString::from).collect(), &cmd());
        assert_eq!(unknown_single_dash(&args(&["t", "build", "-force", "-use-sequential-evaluation", "x"])), Some("-use-sequential-evaluation".into()));
        assert_eq!(unknown_single_dash(&args(&["t", "build", "-zzz=1"])), Some("-zzz".into()));
        assert_eq!(unknown_single_dash(&args(&["t", "build", "-var", "a=1", "-1", "--", "-later"])), None);
    }

    #[test]
    fn a_flag_with_an_optional_value_does_not_swallow_the_next_flag() {
        assert_eq!(norm(&["t", "build", "-write", "-force"]), ["t", "build", "--write", "--force"]);
        assert_eq!(norm(&["t", "build", "-write=false", "-force"]), ["t", "build", "--write=false", "--force"]);
    }
}
