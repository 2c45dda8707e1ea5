//! The `build` subcommand: loads a template, selects builds with `-only`/`-except` and runs
//! every build whose sources are all `null`, reporting like `packer build` (plain text,
//! `-machine-readable` CSV or `--json` lines). Exit 0 when every build succeeded, 1 otherwise.

use std::path::PathBuf;
use std::sync::Arc;

use cce_engine::events::{JsonLinesReporter, MachineReadableReporter, PlainReporter, Reporter};
use cce_engine::null_build::{NullBuild, OnError, new_run_uuid};
use cce_engine::redact::Redactor;
use cce_template::diag::Diagnostics;
use cce_template::load::load;
use cce_template::schema::SourceConfig;

use super::validate::{VarArgs, glob_match};
use crate::exit;

/// Flags of `build`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Build only these sources (type.name, `*` matches any text).
    #[arg(long = "only", value_delimiter = ',', value_name = "NAMES")]
    pub only: Vec<String>,
    /// Build all sources but these.
    #[arg(long = "except", value_delimiter = ',', value_name = "NAMES")]
    pub except: Vec<String>,
    /// What to do when a build fails: cleanup (run the error-cleanup-provisioner) or abort.
    #[arg(
        long = "on-error",
        value_name = "cleanup|abort",
        default_value = "cleanup"
    )]
    pub on_error: String,
    /// Packer's machine-readable CSV output.
    #[arg(long = "machine-readable")]
    pub machine_readable: bool,
    /// Prefix every line with the time.
    #[arg(long = "timestamp-ui")]
    pub timestamp_ui: bool,
    /// One JSON event per line on stdout.
    #[arg(long = "json")]
    pub json: bool,
    /// Accepted for Packer compatibility: a null build leaves no artifact to overwrite.
    #[arg(long = "force")]
    pub force: bool,
    /// Accepted for Packer compatibility: output is never colored.
    #[arg(long = "color", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub color: Option<String>,
    /// A .pkr.hcl file or a folder holding them.
    pub path: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    if !args.only.is_empty() && !args.except.is_empty() {
        eprintln!("error: only one of -only or -except may be given");
        return Ok(exit::FAILED);
    }
    let on_error = match args.on_error.as_str() {
        "cleanup" => OnError::Cleanup,
        "abort" => OnError::Abort,
        other => {
            eprintln!("error: -on-error={other} is not supported; use cleanup or abort");
            return Ok(exit::USAGE);
        }
    };
    if args.json && args.machine_readable {
        eprintln!(
            "error: -machine-readable and --json cannot be used together; pick one output format"
        );
        return Ok(exit::USAGE);
    }
    let opts = match args.vars.load_options(args.path.clone()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::USAGE);
        }
    };
    let loaded = match load(&opts) {
        Ok(l) => l,
        Err(e) => {
            eprint!("{}", e.diagnostics.render(&e.sources));
            return Ok(exit::FAILED);
        }
    };
    // The whole template is checked (a provisioner's `only` may name a source that -only
    // leaves out, as Packer allows); the selection applies to the checked plan.
    let (plan, plan_diags) = cce_template::schema::plan_with_env(&loaded.blocks, &opts.env);
    let mut all = Diagnostics::default();
    all.extend(loaded.warnings.clone());
    all.extend(plan_diags);
    if !all.is_empty() {
        eprint!("{}", all.render(&loaded.sources));
    }
    let Some(mut plan) = plan.filter(|_| !all.has_errors()) else {
        return Ok(exit::FAILED);
    };
    select(&mut plan, &args.only, &args.except);
    for build in &plan.builds {
        for source in &build.sources {
            if let SourceConfig::HuaweiEcs(_) = source.config {
                eprintln!(
                    "error: source {} uses the huaweicloud-ecs builder, which `build` cannot run yet; only null sources are built for now (use -only to select them)",
                    source.reference()
                );
                return Ok(exit::FAILED);
            }
        }
    }

    let redactor = Redactor::new();
    for secret in &loaded.sensitive_values {
        // The redactor refuses values too short to filter without mangling the output; such a
        // value cannot be hidden, so a longer secret is the user's remedy.
        let _ = redactor.add(secret);
    }
    let reporter: Arc<dyn Reporter> = if args.json {
        Arc::new(JsonLinesReporter::new(std::io::stdout(), redactor.clone()))
    } else if args.machine_readable {
        Arc::new(MachineReadableReporter::new(
            std::io::stdout(),
            redactor.clone(),
        ))
    } else {
        Arc::new(
            PlainReporter::new(std::io::stdout(), redactor.clone())
                .with_timestamps(args.timestamp_ui),
        )
    };
    let run_uuid = new_run_uuid();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut failed = 0;
    let total: usize = plan.builds.iter().map(|b| b.sources.len()).sum();
    if total == 0 {
        eprintln!(
            "error: there are no builds to run; check -only/-except and the build blocks' sources"
        );
        return Ok(exit::FAILED);
    }
    for build in &plan.builds {
        for source in &build.sources {
            let job = NullBuild {
                build,
                source,
                reporter: Arc::clone(&reporter),
                redactor: redactor.clone(),
                run_uuid: run_uuid.clone(),
                cwd: opts.cwd.clone(),
                on_error,
            };
            let outcome = runtime.block_on(job.run());
            if outcome.error.is_some() {
                failed += 1;
            }
        }
    }
    Ok(if failed == 0 { exit::OK } else { exit::FAILED })
}

/// Keeps the builds' sources selected by `-only`/`-except`, matched like Packer against
/// `TYPE.NAME` and `BUILD.TYPE.NAME` with `*` globs.
fn select(plan: &mut cce_template::schema::BuildPlan, only: &[String], except: &[String]) {
    for build in &mut plan.builds {
        let build_name = build.name.clone();
        build.sources.retain(|s| {
            let mut names = vec![s.reference()];
            if let Some(b) = &build_name {
                names.push(format!("{b}.{}", s.reference()));
            }
            let hit = |pats: &[String]| pats.iter().any(|p| names.iter().any(|n| glob_match(p, n)));
            (only.is_empty() || hit(only)) && !hit(except)
        });
    }
}
