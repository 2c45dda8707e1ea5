//! The `validate` subcommand: loads a template with its variables, checks every block against
//! its schema and prints every problem found, or "The configuration is valid.".

use std::collections::BTreeMap;
use std::path::PathBuf;

use cce_template::body::{AttrValue, Block};
use cce_template::diag::Diagnostics;
use cce_template::load::{LoadOptions, Loaded, load};

use crate::exit;

/// Variable inputs shared by the commands that load a template.
#[derive(clap::Args, Debug, Default)]
pub struct VarArgs {
    /// Set a variable: -var 'name=value' (repeatable; later ones win).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read variables from an HCL (or JSON) file (repeatable; later ones win).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

impl VarArgs {
    /// The options to load `path` with, the process environment read once here.
    pub fn load_options(&self, path: PathBuf) -> Result<LoadOptions, String> {
        let mut vars = Vec::new();
        for v in &self.vars {
            match v.split_once('=') {
                Some((name, value)) if !name.trim().is_empty() => vars.push((name.trim().to_string(), value.to_string())),
                _ => return Err(format!("invalid -var {v:?}: expected NAME=VALUE, e.g. -var 'region=ru-moscow-1'")),
            }
        }
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let cwd = std::env::current_dir().unwrap_or_default();
        Ok(LoadOptions { path, vars, var_files: self.var_files.clone(), env, cwd, ..Default::default() })
    }

    /// [`Self::load_options`], or the usage exit code after printing why it failed.
    pub fn options_or_exit(&self, path: PathBuf) -> Result<LoadOptions, u8> {
        self.load_options(path).map_err(|e| {
            eprintln!("error: {e}");
            exit::USAGE
        })
    }

    /// Loads the template at `path` with these variables; on failure, prints why and gives the
    /// exit code to return (usage for bad flags, failure for a bad template).
    pub fn load(&self, path: PathBuf) -> Result<(LoadOptions, Loaded), u8> {
        let opts = self.options_or_exit(path)?;
        let loaded = load_or_exit(&opts)?;
        Ok((opts, loaded))
    }
}

/// Loads a template, or gives the failure exit code after printing its diagnostics.
pub fn load_or_exit(opts: &LoadOptions) -> Result<Loaded, u8> {
    load(opts).map_err(|e| {
        eprint!("{}", e.diagnostics.render(&e.sources));
        exit::FAILED
    })
}

/// Flags of `validate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Only check the syntax; evaluate nothing.
    #[arg(long = "syntax-only")]
    pub syntax_only: bool,
    /// Validate only the builds of these sources (type.name, `*` matches any text).
    #[arg(long = "only", value_delimiter = ',', value_name = "NAMES")]
    pub only: Vec<String>,
    /// Validate all builds but the ones of these sources.
    #[arg(long = "except", value_delimiter = ',', value_name = "NAMES")]
    pub except: Vec<String>,
    /// Do not warn about var-file values for variables the template does not declare.
    #[arg(long = "no-warn-undeclared-var")]
    pub no_warn_undeclared_var: bool,
    /// Accepted for Packer compatibility: no plugin is loaded, pre-release or not.
    #[arg(long = "ignore-prerelease-plugins")]
    pub ignore_prerelease_plugins: bool,
    /// A .pkr.hcl file or a folder holding them.
    pub path: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    if !args.only.is_empty() && !args.except.is_empty() {
        // Packer refuses the pair the same way.
        eprintln!("error: only one of -only or -except may be given");
        return Ok(exit::FAILED);
    }
    let mut opts = match args.vars.options_or_exit(args.path.clone()) {
        Ok(o) => o,
        Err(code) => return Ok(code),
    };
    opts.syntax_only = args.syntax_only;
    opts.no_warn_undeclared_var = args.no_warn_undeclared_var;
    let loaded = match load_or_exit(&opts) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    if args.syntax_only {
        println!("Syntax-only check passed. Everything looks okay.");
        return Ok(exit::OK);
    }
    let mut blocks = loaded.blocks.clone();
    filter_builds(&mut blocks, &args.only, &args.except);
    let (plan, plan_diags) = cce_template::schema::plan_with_env(&blocks, &opts.env);
    let mut all = Diagnostics::default();
    all.extend(loaded.warnings.clone());
    all.extend(plan_diags);
    if let Some(plan) = &plan {
        all.extend(cce_template::schema::files::check_files(plan, &opts.cwd));
    }
    if !all.is_empty() {
        eprint!("{}", all.render(&loaded.sources));
    }
    if all.has_errors() {
        return Ok(exit::FAILED);
    }
    if let Some(plan) = &plan {
        for line in local_cloud_lines(plan) {
            println!("{line}");
        }
    }
    println!("The configuration is valid.");
    Ok(exit::OK)
}

/// One line per source that has no credentials and so builds on the embedded local cloud.
pub fn local_cloud_lines(plan: &cce_template::schema::BuildPlan) -> Vec<String> {
    let mut seen = Vec::new();
    for build in &plan.builds {
        for source in &build.sources {
            if let cce_template::schema::SourceConfig::HuaweiEcs(cfg) = &source.config {
                let reference = source.reference();
                if cfg.local_cloud && !seen.contains(&reference) {
                    seen.push(reference);
                }
            }
        }
    }
    seen.into_iter()
        .map(|r| format!("{r}: access_key and secret_key are empty: this source builds on the embedded local cloud"))
        .collect()
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Keeps, in each build, the sources selected by `-only`/`-except` (matched against `type.name`
/// and `build-name.type.name` like Packer); a build left without sources is dropped.
pub fn filter_builds(blocks: &mut Vec<Block>, only: &[String], except: &[String]) {
    if only.is_empty() && except.is_empty() {
        return;
    }
    let keep = |build_name: Option<&str>, source: &str| {
        let short = source.strip_prefix("source.").unwrap_or(source);
        let mut names = vec![short.to_string()];
        if let Some(b) = build_name {
            names.push(format!("{b}.{short}"));
        }
        let hit = |pats: &[String]| pats.iter().any(|p| names.iter().any(|n| glob_match(p, n)));
        (only.is_empty() || hit(only)) && !hit(except)
    };
    blocks.retain_mut(|b| {
        if b.kind != "build" {
            return true;
        }
        let build_name = match b.attribute("name").map(|a| &a.value) {
            Some(AttrValue::Known(v)) => v.as_str().map(str::to_string),
            _ => None,
        };
        let mut left = 0;
        for a in b.attributes.iter_mut().filter(|a| a.name == "sources") {
            if let Some(items) = match &mut a.value {
                AttrValue::Known(v) => v.as_array_mut(),
                AttrValue::Deferred(_) => None,
            } {
                items.retain(|v| v.as_str().is_some_and(|s| keep(build_name.as_deref(), s)));
                left += items.len();
            }
        }
        b.blocks.retain(|inner| {
            if inner.kind != "source" {
                return true;
            }
            let k = inner.labels.first().is_some_and(|l| keep(build_name.as_deref(), l));
            left += usize::from(k);
            k
        });
        left > 0
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("huaweicloud-ecs.*", "huaweicloud-ecs.builder"));
        assert!(glob_match("*.builder", "null.builder"));
        assert!(glob_match("null.a", "null.a"));
        assert!(!glob_match("null.a", "null.ab"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn var_flags_need_a_name_and_an_equals_sign() {
        let a = VarArgs { vars: vec!["region".into()], var_files: vec![] };
        assert!(a.load_options(PathBuf::from(".")).unwrap_err().contains("expected NAME=VALUE"));
        let a = VarArgs { vars: vec!["l=[\"a=b\"]".into()], var_files: vec![] };
        assert_eq!(a.load_options(PathBuf::from(".")).unwrap().vars, [("l".to_string(), "[\"a=b\"]".to_string())]);
    }

    fn builds(only: &[&str], except: &[&str]) -> Vec<Vec<String>> {
        let d = tempfile::tempdir().unwrap();
        let tpl = "source \"null\" \"a\" {}\nsource \"null\" \"b\" {}\nbuild {\n  name = \"x\"\n  sources = [\"source.null.a\", \"source.null.b\"]\n}\nbuild {\n  source \"source.null.b\" {\n    name = \"c\"\n  }\n}\n";
        std::fs::write(d.path().join("t.pkr.hcl"), tpl).unwrap();
        let mut blocks = load(&LoadOptions { path: d.path().to_path_buf(), ..Default::default() }).unwrap().blocks;
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        filter_builds(&mut blocks, &own(only), &own(except));
        blocks
            .iter()
            .filter(|b| b.kind == "build")
            .map(|b| {
                let mut names: Vec<String> = match b.attribute("sources").map(|a| &a.value) {
                    Some(AttrValue::Known(v)) => v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect(),
                    _ => Vec::new(),
                };
                names.extend(b.blocks_of("source").map(|s| s.labels[0].clone()));
                names
            })
            .collect()
    }

    #[test]
    fn only_and_except_select_sources() {
        assert_eq!(builds(&[], &[]), [vec!["source.null.a", "source.null.b"], vec!["source.null.b"]]);
        assert_eq!(builds(&["null.a"], &[]), [vec!["source.null.a"]]);
        assert_eq!(builds(&["x.null.b"], &[]), [vec!["source.null.b"]]);
        assert_eq!(builds(&[], &["null.b"]), [vec!["source.null.a"]]);
        assert_eq!(builds(&[], &["*"]), Vec::<Vec<String>>::new());
    }
}
