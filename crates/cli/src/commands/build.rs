//! The `build` subcommand: loads a template, selects builds with `-only`/`-except` and runs
//! them, reporting like `packer build` (plain text, `-machine-readable` CSV or `--json` lines).
//! Every build, `null` or `huaweicloud-ecs`, runs concurrently with the others (as Packer), at
//! most `-parallel-builds` at once, starting in template order; the end summary lists them in
//! template order. Cloud builds run on the real cloud when the template has credentials, else
//! on the embedded local cloud, each with its own journal so `cce-image-builder cleanup <id>`
//! can finish what an interrupted or killed build left. Exit 0 when every build succeeded, 1
//! otherwise, 130/143 after SIGINT/SIGTERM.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use cce_cloud::signer::Credentials;
use cce_cloud::{Client, ClientConfig, Cloud, Endpoints, EndpointsFile, TransportOptions, Waits};
use cce_engine::ecs_build::{
    self, EcsBuild, EcsBuildOutcome, EcsOptions, FailureChoice, OnFailure,
};
use cce_engine::events::{Event, Reporter};
use cce_engine::interrupt::{self, Interrupt};
use cce_engine::ledger::{BuildHeader, CloudKind, CloudTarget, Ledger, new_build_id, state_root};
use cce_engine::null_build::{NullBuild, NullBuildOutcome, OnError, display_name, new_run_uuid};
use cce_engine::redact::Redactor;
use cce_template::diag::Diagnostics;
use cce_template::schema::huaweicloud::HuaweiEcsConfig;
use cce_template::schema::{Build, BuildSource, SourceConfig};

use super::validate::{VarArgs, glob_match};
use crate::exit;

/// Flags of `build`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit codes: 0 every build succeeded, 1 a build failed or its cleanup left something \
(named, with what to do), 2 bad usage, 130 stopped by Ctrl-C (SIGINT), 143 stopped by SIGTERM. \
After a crash or a third Ctrl-C, `cce-image-builder cleanup --all` removes what was left."
)]
pub struct Args {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Build only these sources (type.name, `*` matches any text).
    #[arg(long = "only", value_delimiter = ',', value_name = "NAMES")]
    pub only: Vec<String>,
    /// Build all sources but these.
    #[arg(long = "except", value_delimiter = ',', value_name = "NAMES")]
    pub except: Vec<String>,
    /// What to do when a build fails: cleanup (run the error-cleanup-provisioner, remove what
    /// the build made), abort (leave everything for `cleanup <id>`), ask (on a terminal), or
    /// run-cleanup-provisioner (run it, then abort).
    #[arg(
        long = "on-error",
        value_name = "cleanup|abort|ask|run-cleanup-provisioner",
        default_value = "cleanup"
    )]
    pub on_error: String,
    /// How many builds run at once; 0 means no limit.
    #[arg(long = "parallel-builds", value_name = "N", default_value_t = 0)]
    pub parallel_builds: usize,
    /// Pause after each step of a cloud build until Enter is pressed (needs a terminal).
    #[arg(long = "debug")]
    pub debug: bool,
    /// Do not copy the build log (PACKER_LOG_PATH) into the image.
    #[arg(long = "no-log-in-image")]
    pub no_log_in_image: bool,
    /// Print what each build would create, bill and call, then stop without calling the cloud.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Packer's machine-readable CSV output.
    #[arg(long = "machine-readable")]
    pub machine_readable: bool,
    /// Prefix every line with the time.
    #[arg(long = "timestamp-ui")]
    pub timestamp_ui: bool,
    /// One JSON event per line on stdout.
    #[arg(long = "json")]
    pub json: bool,
    /// Delete private images named like a build's `image_name` before building it.
    #[arg(long = "force")]
    pub force: bool,
    /// Accepted for Packer compatibility: output is never colored.
    #[arg(long = "color", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub color: Option<String>,
    /// Warn about var-file values for variables the template does not declare (the default here).
    #[arg(long = "warn-on-undeclared-var", conflicts_with = "no_warn_undeclared_var")]
    pub warn_on_undeclared_var: bool,
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
        eprintln!("error: only one of -only or -except may be given");
        return Ok(exit::FAILED);
    }
    // Null builds have nothing to clean up: only whether the error-cleanup-provisioner runs.
    let on_error = match args.on_error.as_str() {
        "cleanup" | "ask" | "run-cleanup-provisioner" => OnError::Cleanup,
        "abort" => OnError::Abort,
        other => {
            eprintln!(
                "error: -on-error={other} is not supported; use cleanup, abort, ask or run-cleanup-provisioner"
            );
            return Ok(exit::USAGE);
        }
    };
    let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if args.debug && !terminal {
        eprintln!(
            "error: -debug pauses for Enter after each step and needs a terminal on stdin; run it interactively or drop -debug"
        );
        return Ok(exit::USAGE);
    }
    let on_failure = match args.on_error.as_str() {
        "abort" => OnFailure::Abort,
        "run-cleanup-provisioner" => OnFailure::RunCleanupProvisioner,
        "ask" if terminal => OnFailure::Ask(Arc::new(ask_on_failure)),
        "ask" => {
            eprintln!(
                "warning: -on-error=ask needs a terminal to ask on; a failed build is cleaned up"
            );
            OnFailure::Cleanup
        }
        _ => OnFailure::Cleanup,
    };
    if args.json && args.machine_readable {
        eprintln!(
            "error: -machine-readable and --json cannot be used together; pick one output format"
        );
        return Ok(exit::USAGE);
    }
    let mut opts = match args.vars.options_or_exit(args.path.clone()) {
        Ok(o) => o,
        Err(code) => return Ok(code),
    };
    opts.no_warn_undeclared_var = args.no_warn_undeclared_var;
    let loaded = match super::validate::load_or_exit(&opts) {
        Ok(l) => l,
        Err(code) => return Ok(code),
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
    // Fields the builder cannot honour are refused before anything is created.
    let mut refused = false;
    for build in &plan.builds {
        for source in &build.sources {
            if let SourceConfig::HuaweiEcs(cfg) = &source.config {
                for why in ecs_build::unsupported(cfg) {
                    eprintln!("error: source {}: {why}", source.reference());
                    refused = true;
                }
            }
        }
    }
    if refused {
        return Ok(exit::FAILED);
    }
    if args.dry_run {
        return Ok(dry_run(&plan, args.json));
    }

    // The process-wide redactor, which the debug log set up in `main` shares: secrets the
    // builds meet later (the private key) are hidden there too.
    let redactor = crate::logging::redactor();
    for secret in &loaded.sensitive_values {
        // The redactor refuses values too short to filter without mangling the output; such a
        // value cannot be hidden, so a longer secret is the user's remedy.
        let _ = redactor.add(secret);
    }
    let env: HashMap<String, String> = opts.env.clone().into_iter().collect();
    let reporter: Arc<dyn Reporter> = cce_engine::tty::reporter_for(
        cce_engine::tty::stdout_wants_live_view(&env),
        args.json,
        args.machine_readable,
        args.timestamp_ui,
        redactor.clone(),
    );
    let run_uuid = new_run_uuid();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // One signal handler for the whole command: null and cloud builds alike stop on Ctrl-C.
    let (interrupter, interrupt) = interrupt::channel();
    let build_ids: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let listener = {
        let _in_runtime = runtime.enter();
        let reporter = Arc::clone(&reporter);
        let ids = Arc::clone(&build_ids);
        crate::signals::install(
            interrupter,
            move |m| {
                let _ = reporter.report(&Event::Warning {
                    build: None,
                    message: m.to_string(),
                });
            },
            move || ids.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        )?
    };
    let total: usize = plan.builds.iter().map(|b| b.sources.len()).sum();
    if total == 0 {
        eprintln!(
            "error: there are no builds to run; check -only/-except and the build blocks' sources"
        );
        return Ok(exit::FAILED);
    }
    // Every selected build in template order: null and cloud builds share one limit.
    let builds: Vec<(Build, BuildSource)> = plan
        .builds
        .iter()
        .flat_map(|b| b.sources.iter().map(move |s| (b.clone(), s.clone())))
        .collect();
    // The end summary lists the builds in template order, whichever ends first.
    reporter.plan(
        &builds
            .iter()
            .map(|(b, s)| display_name(b, s))
            .collect::<Vec<_>>(),
    );
    // The debug log (set up in `main` from the same variables), copied into the image.
    let log_file = match cce_engine::logsink::log_target_now(&env, &opts.cwd) {
        cce_engine::logsink::LogTarget::File(p) if !args.no_log_in_image && p.is_file() => Some(p),
        _ => None,
    };
    let ctx = EcsRun {
        reporter: Arc::clone(&reporter),
        redactor,
        run_uuid,
        cwd: opts.cwd.clone(),
        template: args.path.display().to_string(),
        env,
        on_failure,
        on_error,
        parallel: args.parallel_builds,
        debug: args.debug,
        force: args.force,
        log_file,
        to_stdout: !args.json && !args.machine_readable,
    };
    let code = runtime.block_on(run_builds(&ctx, builds, interrupt, build_ids));
    listener.abort();
    let _ = reporter.finish();
    Ok(code)
}

/// What every build of one `build` command shares.
struct EcsRun {
    reporter: Arc<dyn Reporter>,
    redactor: Redactor,
    run_uuid: String,
    cwd: PathBuf,
    template: String,
    env: HashMap<String, String>,
    on_failure: OnFailure,
    /// What a failed null build does.
    on_error: OnError,
    parallel: usize,
    debug: bool,
    force: bool,
    log_file: Option<PathBuf>,
    /// Plain output (not JSON or CSV): notes go to stdout with the rest.
    to_stdout: bool,
}

impl EcsRun {
    fn note(&self, text: &str) {
        if self.to_stdout {
            println!("{text}");
            let _ = std::io::stdout().flush();
        } else {
            eprintln!("{text}");
        }
    }
}

/// The stable first line of a build on the embedded local cloud.
pub const LOCAL_CLOUD_NOTE: &str = "==> Building on the embedded local cloud (no credentials set): it proves the pipeline and the scripts, not the cloud";

/// A cloud to build on and where a later `cleanup` finds it again.
struct Target {
    cloud: Arc<dyn Cloud>,
    header: CloudTarget,
    local: bool,
}

/// The embedded local cloud, started from the state folder and profile that `env` names.
pub struct EmbeddedCloud {
    pub handle: cce_localcloud::LocalCloudHandle,
    pub cloud: Arc<dyn Cloud>,
    pub state: PathBuf,
}

/// Starts the embedded local cloud the way a build does (`build` and `preflight` share it):
/// the state folder from `CCE_LOCALCLOUD_STATE` or the default, the latency profile, sandbox
/// servers, and a signed client reaching it.
pub async fn start_embedded_cloud(env: &HashMap<String, String>) -> anyhow::Result<EmbeddedCloud> {
    let get = |k: &str| env.get(k).cloned();
    let state = crate::embedded::state_dir(&get)?;
    let (profile, scale) = crate::embedded::profile(&get)?;
    let handle = crate::embedded::start(&state, profile, scale).await?;
    let client = Client::new(crate::embedded::client_config(&handle)?)
        .context("cannot make a client for the embedded local cloud")?;
    Ok(EmbeddedCloud {
        handle,
        cloud: Arc::new(client),
        state,
    })
}

/// How one build ended, as far as the exit code is concerned.
enum Ended {
    Null(NullBuildOutcome),
    Ecs(EcsBuildOutcome),
    /// A null build dropped at an interrupt.
    Interrupted(String),
}

impl Ended {
    fn failed(&self) -> bool {
        match self {
            Ended::Null(o) => o.error.is_some(),
            Ended::Ecs(o) => o.error.is_some() || !o.cleanup_failures.is_empty(),
            Ended::Interrupted(_) => true,
        }
    }
}

/// Runs every build, at most `-parallel-builds` at once, each starting in template order, and
/// returns the exit code. A failed build does not stop the others (as Packer); an interrupt
/// stops the null builds at once and lets the cloud builds clean up.
async fn run_builds(
    ctx: &EcsRun,
    builds: Vec<(Build, BuildSource)>,
    interrupt: Interrupt,
    build_ids: Arc<Mutex<Vec<String>>>,
) -> u8 {
    let limit = if ctx.parallel == 0 {
        builds.len().max(1)
    } else {
        ctx.parallel
    };
    let permits = Arc::new(tokio::sync::Semaphore::new(limit));
    let ecs: Vec<(Build, BuildSource)> = builds
        .iter()
        .filter(|(_, s)| matches!(s.config, SourceConfig::HuaweiEcs(_)))
        .cloned()
        .collect();
    // The cloud builds are prepared (local cloud started, journals created) when the first of
    // them is reached, so null builds before it are already running meanwhile.
    let mut ecs_jobs: Option<std::vec::IntoIter<OwnedEcsBuild>> = None;
    let mut local: Option<cce_localcloud::LocalCloudHandle> = None;
    let mut prepare_failed = false;
    let mut set = tokio::task::JoinSet::new();
    for (build, source) in builds {
        let name = display_name(&build, &source);
        match &source.config {
            SourceConfig::Null(_) => {
                let permit = tokio::select! {
                    p = Arc::clone(&permits).acquire_owned() => p,
                    () = interrupt.cancelled() => continue,
                };
                let job = OwnedNullBuild {
                    build,
                    source,
                    reporter: Arc::clone(&ctx.reporter),
                    redactor: ctx.redactor.clone(),
                    run_uuid: ctx.run_uuid.clone(),
                    cwd: ctx.cwd.clone(),
                    on_error: ctx.on_error,
                };
                let interrupt = interrupt.clone();
                set.spawn(async move {
                    let _slot = permit;
                    // Dropping the build's future at an interrupt closes its connection,
                    // which ends what the provisioner runs on the host.
                    tokio::select! {
                        o = job.run() => Ended::Null(o),
                        () = interrupt.cancelled() => Ended::Interrupted(name),
                    }
                });
            }
            SourceConfig::HuaweiEcs(_) => {
                if ecs_jobs.is_none() && !prepare_failed {
                    match prepare_ecs(ctx, &ecs, &interrupt, &build_ids).await {
                        Ok((jobs, handle)) => {
                            ecs_jobs = Some(jobs.into_iter());
                            local = handle;
                        }
                        Err(e) => {
                            eprintln!("error: {e:#}");
                            prepare_failed = true;
                        }
                    }
                }
                let Some(job) = ecs_jobs.as_mut().and_then(Iterator::next) else {
                    continue;
                };
                // Taken here, not in the task, so builds start in template order. A cloud
                // build still starts after an interrupt: it sees it at once, ends and closes
                // its journal (the running builds end too, so a slot frees).
                let permit = Arc::clone(&permits).acquire_owned().await;
                set.spawn(async move {
                    // The semaphore is never closed, so acquiring only waited for a free slot.
                    let _slot = permit;
                    Ended::Ecs(job.run().await)
                });
            }
        }
    }
    let mut failed = prepare_failed;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ended::Interrupted(name)) => {
                let _ = ctx.reporter.report(&Event::Error {
                    build: Some(name.clone()),
                    message: "build was interrupted".into(),
                });
                failed = true;
            }
            Ok(ended) => failed |= ended.failed(),
            Err(e) => {
                eprintln!("error: a build task ended abnormally: {e}");
                failed = true;
            }
        }
    }
    if let Some(handle) = local {
        handle.shutdown().await;
    }
    match interrupt.signal() {
        Some(sig) => sig.exit_code(),
        None if failed => exit::FAILED,
        None => exit::OK,
    }
}

/// Starts what the cloud builds need and creates their journals: one job per build, in order,
/// and the embedded local cloud's handle when one was started.
async fn prepare_ecs(
    ctx: &EcsRun,
    builds: &[(Build, BuildSource)],
    interrupt: &Interrupt,
    build_ids: &Arc<Mutex<Vec<String>>>,
) -> anyhow::Result<(Vec<OwnedEcsBuild>, Option<cce_localcloud::LocalCloudHandle>)> {
    let cfg_of = |s: &BuildSource| match &s.config {
        SourceConfig::HuaweiEcs(c) => Some(c.clone()),
        _ => None,
    };
    let needs_local = builds
        .iter()
        .any(|(_, s)| cfg_of(s).is_some_and(|c| c.local_cloud));
    let mut local = None;
    if needs_local {
        ctx.note(LOCAL_CLOUD_NOTE);
        local = Some(start_embedded_cloud(&ctx.env).await?);
    }
    let mut targets = Vec::new();
    for (_, source) in builds {
        let Some(cfg) = cfg_of(source) else { continue };
        let target = match &local {
            Some(embedded) if cfg.local_cloud => Target {
                cloud: Arc::clone(&embedded.cloud),
                header: CloudTarget {
                    kind: CloudKind::Local,
                    region: embedded.handle.region.clone(),
                    endpoints_file: None,
                    local_state_dir: Some(embedded.state.clone()),
                },
                local: true,
            },
            _ => real_target(&cfg, &ctx.env)
                .await
                .with_context(|| format!("source {}", source.reference()))?,
        };
        targets.push(target);
    }

    let root = state_root(&ctx.env);
    let mut jobs = Vec::new();
    for ((build, source), target) in builds.iter().cloned().zip(targets) {
        let build_id = new_build_id();
        let header = BuildHeader {
            build_id: build_id.clone(),
            template: ctx.template.clone(),
            cloud: target.header.clone(),
            pid: std::process::id(),
        };
        let ledger = Ledger::create(&root, &build_id, header).with_context(|| {
            format!(
                "cannot create the journal of build {build_id} under {}",
                root.display()
            )
        })?;
        build_ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(build_id.clone());
        let name = display_name(&build, &source);
        let _ = ctx.reporter.report(&Event::StepStarted {
            build: name,
            step: format!("Build id {build_id} (journal {})", ledger.path().display()),
        });
        jobs.push(OwnedEcsBuild {
            build,
            source,
            cloud: target.cloud,
            ledger: Arc::new(ledger),
            reporter: Arc::clone(&ctx.reporter),
            redactor: ctx.redactor.clone(),
            run_uuid: ctx.run_uuid.clone(),
            cwd: ctx.cwd.clone(),
            on_error: ctx.on_failure.clone(),
            interrupt: interrupt.clone(),
            log_file: ctx.log_file.clone(),
            local_cloud: target.local,
            options: EcsOptions {
                force: ctx.force,
                pause_after_step: ctx
                    .debug
                    .then(|| Arc::new(pause_after_step) as ecs_build::PauseFn),
            },
        });
    }
    Ok((jobs, local.map(|l| l.handle)))
}

/// A [`NullBuild`] that owns its build and source, so it can run on its own task.
struct OwnedNullBuild {
    build: Build,
    source: BuildSource,
    reporter: Arc<dyn Reporter>,
    redactor: Redactor,
    run_uuid: String,
    cwd: PathBuf,
    on_error: OnError,
}

impl OwnedNullBuild {
    async fn run(self) -> NullBuildOutcome {
        NullBuild {
            build: &self.build,
            source: &self.source,
            reporter: self.reporter,
            redactor: self.redactor,
            run_uuid: self.run_uuid,
            cwd: self.cwd,
            on_error: self.on_error,
        }
        .run()
        .await
    }
}

/// An [`EcsBuild`] that owns its build and source, so it can run on its own task.
struct OwnedEcsBuild {
    build: Build,
    source: BuildSource,
    cloud: Arc<dyn Cloud>,
    ledger: Arc<Ledger>,
    reporter: Arc<dyn Reporter>,
    redactor: Redactor,
    run_uuid: String,
    cwd: PathBuf,
    on_error: OnFailure,
    interrupt: Interrupt,
    log_file: Option<PathBuf>,
    local_cloud: bool,
    options: EcsOptions,
}

impl OwnedEcsBuild {
    async fn run(self) -> EcsBuildOutcome {
        EcsBuild {
            build: &self.build,
            source: &self.source,
            cloud: self.cloud,
            ledger: self.ledger,
            reporter: self.reporter,
            redactor: self.redactor,
            run_uuid: self.run_uuid,
            cwd: self.cwd,
            on_error: self.on_error,
            interrupt: self.interrupt,
            waits: Waits::default(),
            log_file: self.log_file,
            local_cloud: self.local_cloud,
            options: self.options,
        }
        .run()
        .await
    }
}

/// A client of the real cloud from the source's access fields; `CCE_ENDPOINTS_FILE` replaces
/// the endpoints only (a local cloud standing in for the real one in tests), the keys and the
/// project still come from the template.
async fn real_target(
    cfg: &HuaweiEcsConfig,
    env: &HashMap<String, String>,
) -> anyhow::Result<Target> {
    let file = EndpointsFile::from_env(env).context("CCE_ENDPOINTS_FILE")?;
    let (endpoints, endpoints_file) = match &file {
        Some(f) => (
            f.endpoints().context("CCE_ENDPOINTS_FILE")?,
            env.get("CCE_ENDPOINTS_FILE").map(PathBuf::from),
        ),
        None => match &cfg.auth_url {
            Some(url) => (
                Endpoints::from_auth_url(&cfg.region, url)
                    .with_context(|| format!("auth_url {url:?}"))?,
                None,
            ),
            None => (Endpoints::cloud_ru(&cfg.region), None),
        },
    };
    let credentials = Credentials {
        access_key: cfg.access_key.clone(),
        secret_key: cfg.secret_key.clone(),
        security_token: cfg.security_token.clone(),
    };
    let mut config = ClientConfig::new(endpoints, credentials);
    config.project_id = cfg.project_id.clone();
    config.transport = TransportOptions::from_env(env);
    config.transport.insecure = cfg.insecure;
    let region = config.endpoints.region().to_string();
    let project = cfg
        .project_name
        .clone()
        .unwrap_or_else(|| cfg.region.clone());
    let client = cce_cloud::connect(config, &project)
        .await
        .with_context(|| {
            format!("cannot reach the cloud of region {region} (project {project:?})")
        })?;
    Ok(Target {
        cloud: Arc::new(client),
        header: CloudTarget {
            kind: CloudKind::Real,
            region,
            endpoints_file,
            local_state_dir: None,
        },
        local: false,
    })
}

/// `-on-error=ask` on a terminal.
fn ask_on_failure(step: &str, error: &str) -> FailureChoice {
    let stdin = std::io::stdin();
    loop {
        eprintln!("==> Step {step:?} failed: {error}");
        eprint!("==> [c] Clean up and exit, [a] abort without cleanup, [r] retry step? ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).unwrap_or(0) == 0 {
            return FailureChoice::Cleanup;
        }
        match line.trim() {
            "c" | "C" => return FailureChoice::Cleanup,
            "a" | "A" => return FailureChoice::Abort,
            "r" | "R" => eprintln!(
                "==> retry is not offered: a failed cloud step may have half-made a resource, so it is cleaned up or left, never repeated; choose c or a"
            ),
            _ => {}
        }
    }
}

/// `-debug` after each step.
fn pause_after_step(step: &str) {
    eprintln!("==> Pausing after run of step '{step}'. Press enter to continue.");
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
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

/// `build --dry-run`: what each selected build would create, bill and call. No network.
fn dry_run(plan: &cce_template::schema::BuildPlan, json: bool) -> u8 {
    for build in &plan.builds {
        for source in &build.sources {
            let name = display_name(build, source);
            match &source.config {
                SourceConfig::HuaweiEcs(cfg) => {
                    let dry = cce_engine::dry_run::plan(cfg, None);
                    if json {
                        let line = serde_json::json!({"build": name, "plan": dry});
                        println!("{line}");
                    } else {
                        println!("==> {name}: would run:");
                        print!("{}", cce_engine::dry_run::render_text(&dry));
                    }
                }
                SourceConfig::Null(_) => {
                    if json {
                        println!("{}", serde_json::json!({"build": name, "plan": null}));
                    } else {
                        println!(
                            "==> {name}: the null builder creates nothing; its provisioners would run on the host it names"
                        );
                    }
                }
            }
        }
    }
    exit::OK
}
