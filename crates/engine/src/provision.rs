//! The provisioner runner with Packer's semantics: `shell`, `file`, `shell-local` and
//! `breakpoint`, with the common `pause_before`, `max_retries`, `timeout`, `only`/`except` and
//! `override`. Values that depend on the build (`build.*`) are evaluated here, once the machine
//! is reachable. Every line of output goes out as a build event, so it passes the redactor.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cce_remote::{
    Communicator, ExecOptions, ExitStatus, OutputSink, ProgressObserver, TransferMethod,
    shell_quote,
};
use cce_template::schema::fields::{Deferrable, GoDuration};
use cce_template::schema::provisioners::{
    Breakpoint, Direction, FileProvisioner, ShellLocal, ShellProvisioner,
};
use cce_template::schema::{Provisioner, ProvisionerKind};
use rand::RngExt;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::events::{Event, Reporter, Stream};

/// Why a provisioner (or a post-processor run by the same machinery) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProvisionError {
    pub message: String,
}

impl ProvisionError {
    fn new(message: impl Into<String>) -> Self {
        ProvisionError {
            message: message.into(),
        }
    }
}

type Result<T> = std::result::Result<T, ProvisionError>;

/// What a provisioner needs to know about the build it runs in.
#[derive(Clone)]
pub struct BuildContext {
    /// The display name (`NAME.TYPE.SOURCE` or `TYPE.SOURCE`), prefix of every output line.
    pub display_name: String,
    /// The `name` of the build block, if any (`build.name`).
    pub build_name: Option<String>,
    pub source_type: String,
    pub source_name: String,
    pub run_uuid: String,
    /// `build.*` values (`ID`, `Host`, `Port`, `User`, `SSHPrivateKey`, ...).
    pub values: BTreeMap<String, String>,
    pub reporter: Arc<dyn Reporter>,
    /// Relative local paths are taken from here.
    pub cwd: PathBuf,
}

impl BuildContext {
    /// `TYPE.NAME`, as `only`/`except` name a source.
    pub fn reference(&self) -> String {
        format!("{}.{}", self.source_type, self.source_name)
    }

    /// Emits a `==> NAME: text` line.
    pub fn say(&self, text: impl Into<String>) {
        // A sink that cannot write (a closed pipe) must not stop the build.
        let _ = self.reporter.report(&Event::StepStarted {
            build: self.display_name.clone(),
            step: text.into(),
        });
    }

    /// Emits an error line.
    pub fn error(&self, text: impl Into<String>) {
        let _ = self.reporter.report(&Event::Error {
            build: Some(self.display_name.clone()),
            message: text.into(),
        });
    }

    /// An upload observer that turns bytes sent into `Progress` events named `what`.
    pub fn upload_progress(&self, what: impl Into<String>) -> ProgressObserver {
        let reporter = Arc::clone(&self.reporter);
        let build = self.display_name.clone();
        let what = what.into();
        Arc::new(move |done, total| {
            let _ = reporter.report(&Event::Progress {
                build: build.clone(),
                what: what.clone(),
                done,
                total,
            });
        })
    }

    fn output(&self, provisioner: &str, stream: Stream, line: String) {
        let _ = self.reporter.report(&Event::Output {
            build: self.display_name.clone(),
            provisioner: provisioner.to_string(),
            stream,
            line,
        });
    }

    /// The roots `build` and `source` given to deferred expressions.
    fn roots(&self) -> hcl::Map<String, hcl::Value> {
        let mut build = hcl::Map::new();
        for (k, v) in &self.values {
            build.insert(k.clone(), hcl::Value::String(v.clone()));
        }
        build.insert(
            "PackerRunUUID".into(),
            hcl::Value::String(self.run_uuid.clone()),
        );
        build.insert(
            "name".into(),
            hcl::Value::String(self.build_name.clone().unwrap_or_default()),
        );
        let mut source = hcl::Map::new();
        source.insert("name".into(), hcl::Value::String(self.source_name.clone()));
        source.insert("type".into(), hcl::Value::String(self.source_type.clone()));
        let mut roots = hcl::Map::new();
        roots.insert("build".into(), hcl::Value::Object(build));
        roots.insert("source".into(), hcl::Value::Object(source));
        roots
    }

    fn eval(&self, src: &str) -> Result<hcl::Value> {
        cce_template::eval::eval_deferred(src, &self.roots())
            .map_err(|e| ProvisionError::new(format!("cannot evaluate `{src}` at build time: {e}")))
    }

    fn text(&self, d: &Option<Deferrable<String>>) -> Result<Option<String>> {
        match d {
            None => Ok(None),
            Some(Deferrable::Known(s)) => Ok(Some(s.clone())),
            Some(Deferrable::Deferred(src)) => Ok(Some(value_text(&self.eval(src)?))),
        }
    }

    fn list(&self, d: &Option<Deferrable<Vec<String>>>) -> Result<Option<Vec<String>>> {
        match d {
            None => Ok(None),
            Some(Deferrable::Known(v)) => Ok(Some(v.clone())),
            Some(Deferrable::Deferred(src)) => match self.eval(src)? {
                hcl::Value::Array(items) => Ok(Some(items.iter().map(value_text).collect())),
                other => Ok(Some(vec![value_text(&other)])),
            },
        }
    }

    fn map(
        &self,
        d: &Option<Deferrable<BTreeMap<String, String>>>,
    ) -> Result<Option<BTreeMap<String, String>>> {
        match d {
            None => Ok(None),
            Some(Deferrable::Known(m)) => Ok(Some(m.clone())),
            Some(Deferrable::Deferred(src)) => match self.eval(src)? {
                hcl::Value::Object(m) => Ok(Some(
                    m.iter().map(|(k, v)| (k.clone(), value_text(v))).collect(),
                )),
                other => Err(ProvisionError::new(format!(
                    "`{src}` must be a map, not {}",
                    value_text(&other)
                ))),
            },
        }
    }

    fn local_path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.cwd.join(p)
        }
    }
}

/// A value as text, the way Packer's templates print it.
fn value_text(v: &hcl::Value) -> String {
    match v {
        hcl::Value::Null => String::new(),
        hcl::Value::String(s) => s.clone(),
        hcl::Value::Bool(b) => b.to_string(),
        hcl::Value::Number(n) => n.to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// The type name of a provisioner, as written in the template.
pub fn kind_name(kind: &ProvisionerKind) -> &'static str {
    match kind {
        ProvisionerKind::File(_) => "file",
        ProvisionerKind::Shell(_) => "shell",
        ProvisionerKind::ShellLocal(_) => "shell-local",
        ProvisionerKind::Breakpoint(_) => "breakpoint",
    }
}

/// Whether `only`/`except` let this provisioner run for the source `reference` (`TYPE.NAME`).
pub fn applies_to(only: &[String], except: &[String], reference: &str) -> bool {
    (only.is_empty() || only.iter().any(|o| o == reference))
        && !except.iter().any(|e| e == reference)
}

/// Runs the build's provisioners in order. When one fails, the `error-cleanup-provisioner` (if
/// given and `run_cleanup`) runs, and the first error is returned.
pub async fn run_provisioners(
    provisioners: &[Provisioner],
    error_cleanup: Option<&Provisioner>,
    run_cleanup: bool,
    ctx: &BuildContext,
    comm: Option<&dyn Communicator>,
) -> Result<()> {
    for p in provisioners {
        if let Err(e) = run_one(p, ctx, comm).await {
            if !run_cleanup {
                return Err(e);
            }
            // Packer says this whether or not the build has a cleanup provisioner, and folds
            // a failure of the cleanup into the build's error.
            ctx.say("Provisioning step had errors: Running the cleanup provisioner, if present...");
            if let Some(cleanup) = error_cleanup
                && let Err(ce) = run_one(cleanup, ctx, comm).await
            {
                return Err(ProvisionError::new(format!(
                    "Cleanup failed: {ce}. Original Provisioning error: {e}"
                )));
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Runs one provisioner with its meta-arguments: skipped by `only`/`except`, its `override`
/// applied, then up to `max_retries` more runs, each after `pause_before` and bounded by
/// `timeout`. (Packer 1.6 ignores `timeout` when `pause_before` is set; both are kept here.)
pub async fn run_one(
    p: &Provisioner,
    ctx: &BuildContext,
    comm: Option<&dyn Communicator>,
) -> Result<()> {
    let ty = kind_name(&p.kind);
    if !applies_to(&p.only, &p.except, &ctx.reference()) {
        return Ok(());
    }
    let mut kind = p.kind.clone();
    if let Some(serde_json::Value::Object(fields)) = p.overrides.get(&ctx.source_name) {
        apply_override(&mut kind, fields)
            .map_err(|e| ProvisionError::new(format!("provisioner \"{ty}\": {e}")))?;
    }
    // Packer wraps the provisioner in its pause, then in its retries: every try pauses first,
    // and says what it does in Packer's words.
    let timeout = p.timeout.map(|t| t.0);
    let mut left = p.max_retries;
    let mut attempt = 0;
    loop {
        attempt += 1;
        if let Some(pause) = p.pause_before {
            ctx.say(format!(
                "Pausing {} before the next provisioner...",
                go_duration(pause.0)
            ));
            tokio::time::sleep(pause.0).await;
        }
        if let Some(t) = timeout {
            ctx.say(format!(
                "Setting a {} timeout for the next provisioner...",
                go_duration(t)
            ));
        }
        let started = Instant::now();
        let result = run_kind(&kind, ctx, comm, timeout).await;
        if result.is_err() && timeout.is_some_and(|t| started.elapsed() >= t) {
            ctx.error("Cancelling provisioner after a timeout...");
        }
        match result {
            Ok(()) => return Ok(()),
            Err(e) if left > 0 => {
                ctx.say(format!(
                    "Provisioner failed with {:?}, retrying with {left} trie(s) left",
                    e.message
                ));
                left -= 1;
                // Packer retries at once; a short jittered wait spares a struggling machine.
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(e) => {
                if p.max_retries > 0 {
                    ctx.say("retry limit reached.");
                }
                return Err(e);
            }
        }
    }
}

/// Jittered exponential backoff between retries: 0.5s, 1s, 2s ... up to 10s, each ±25%.
fn backoff(attempt: u32) -> Duration {
    let base = 500u64
        .saturating_mul(1 << attempt.saturating_sub(1).min(5))
        .min(10_000);
    let jitter = rand::rng().random_range(0..=base / 2);
    Duration::from_millis(base - base / 4 + jitter)
}

/// A duration written the way Go prints it (`1m30s`, `500ms`).
fn go_duration(d: Duration) -> String {
    cce_template::schema::GoDuration(d).to_string()
}

async fn run_kind(
    kind: &ProvisionerKind,
    ctx: &BuildContext,
    comm: Option<&dyn Communicator>,
    timeout: Option<Duration>,
) -> Result<()> {
    let ty = kind_name(kind);
    let need_comm = || {
        comm.ok_or_else(|| {
            ProvisionError::new(format!(
                "provisioner \"{ty}\" needs a connection to the machine, but the source has communicator = \"none\""
            ))
        })
    };
    let deadline = timeout.map(|t| Instant::now() + t);
    let work = async {
        match kind {
            ProvisionerKind::Shell(s) => run_shell(s, ctx, need_comm()?, deadline).await,
            ProvisionerKind::File(f) => run_file(f, ctx, need_comm()?).await,
            ProvisionerKind::ShellLocal(s) => run_shell_local(s, ctx, ty, deadline).await,
            ProvisionerKind::Breakpoint(b) => run_breakpoint(b, ctx),
        }
    };
    match timeout {
        None => work.await,
        // The remote and local runners kill their command at the deadline themselves; this
        // outer bound, a little later, catches a transfer that hangs.
        Some(t) => match tokio::time::timeout(t + Duration::from_secs(2), work).await {
            Ok(r) => r.map_err(|e| {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    ProvisionError::new(format!(
                        "provisioner \"{ty}\" timed out after {}: {e}",
                        go_duration(t)
                    ))
                } else {
                    e
                }
            }),
            Err(_) => Err(ProvisionError::new(format!(
                "provisioner \"{ty}\" timed out after {}",
                go_duration(t)
            ))),
        },
    }
}

fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| {
        d.saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    })
}

/// Replaces the fields named in an `override` map.
fn apply_override(
    kind: &mut ProvisionerKind,
    fields: &serde_json::Map<String, serde_json::Value>,
) -> std::result::Result<(), String> {
    fn s(v: &serde_json::Value) -> std::result::Result<Option<Deferrable<String>>, String> {
        match v {
            serde_json::Value::String(x) => Ok(Some(Deferrable::Known(x.clone()))),
            serde_json::Value::Number(n) => Ok(Some(Deferrable::Known(n.to_string()))),
            serde_json::Value::Bool(b) => Ok(Some(Deferrable::Known(b.to_string()))),
            serde_json::Value::Null => Ok(None),
            _ => Err("expected a string".into()),
        }
    }
    fn l(v: &serde_json::Value) -> std::result::Result<Option<Deferrable<Vec<String>>>, String> {
        match v {
            serde_json::Value::Array(items) => Ok(Some(Deferrable::Known(
                items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                    .collect(),
            ))),
            serde_json::Value::Null => Ok(None),
            _ => Err("expected a list of strings".into()),
        }
    }
    fn b(v: &serde_json::Value) -> std::result::Result<bool, String> {
        match v {
            serde_json::Value::Bool(x) => Ok(*x),
            // HCL and Packer accept the strings "true" and "false" for a bool.
            serde_json::Value::String(x) if x == "true" => Ok(true),
            serde_json::Value::String(x) if x == "false" => Ok(false),
            _ => Err("expected a bool".to_string()),
        }
    }
    fn d(v: &serde_json::Value) -> std::result::Result<Option<GoDuration>, String> {
        match v {
            serde_json::Value::Null => Ok(None),
            serde_json::Value::String(x) => GoDuration::parse(x)
                .map(Some)
                .map_err(|e| format!("expected a duration such as \"30s\": {e}")),
            // A bare number is nanoseconds, as Go's time.Duration decodes it.
            serde_json::Value::Number(n) => n
                .as_u64()
                .map(|ns| Some(GoDuration(Duration::from_nanos(ns))))
                .ok_or_else(|| "expected a duration such as \"30s\"".to_string()),
            _ => Err("expected a duration such as \"30s\"".to_string()),
        }
    }
    fn plain_list(v: &serde_json::Value) -> std::result::Result<Vec<String>, String> {
        match l(v)? {
            Some(Deferrable::Known(x)) => Ok(x),
            _ => Ok(Vec::new()),
        }
    }
    fn plain(v: &serde_json::Value) -> std::result::Result<Option<String>, String> {
        match s(v)? {
            Some(Deferrable::Known(x)) => Ok(Some(x)),
            _ => Ok(None),
        }
    }
    fn codes(v: &serde_json::Value) -> std::result::Result<Vec<i64>, String> {
        let items = v.as_array().ok_or("expected a list of numbers")?;
        items
            .iter()
            .map(|i| {
                i.as_i64()
                    .or_else(|| i.as_str().and_then(|s| s.parse().ok()))
                    .ok_or_else(|| "expected a list of numbers".to_string())
            })
            .collect()
    }
    fn m(
        v: &serde_json::Value,
    ) -> std::result::Result<Option<Deferrable<BTreeMap<String, String>>>, String> {
        let obj = v.as_object().ok_or("expected a map")?;
        Ok(Some(Deferrable::Known(
            obj.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    )
                })
                .collect(),
        )))
    }
    for (name, v) in fields {
        let bad = |e: String| format!("override of \"{name}\": {e}");
        let r: std::result::Result<(), String> = match (&mut *kind, name.as_str()) {
            (ProvisionerKind::Shell(p), "inline") => l(v).map(|x| p.inline = x),
            (ProvisionerKind::Shell(p), "script") => s(v).map(|x| p.script = x),
            (ProvisionerKind::Shell(p), "scripts") => l(v).map(|x| p.scripts = x),
            (ProvisionerKind::Shell(p), "environment_vars") => l(v).map(|x| p.environment_vars = x),
            (ProvisionerKind::Shell(p), "env") => m(v).map(|x| p.env = x),
            (ProvisionerKind::Shell(p), "env_var_format") => s(v).map(|x| p.env_var_format = x),
            (ProvisionerKind::Shell(p), "execute_command") => s(v).map(|x| p.execute_command = x),
            (ProvisionerKind::Shell(p), "remote_folder") => s(v).map(|x| p.remote_folder = x),
            (ProvisionerKind::Shell(p), "remote_file") => s(v).map(|x| p.remote_file = x),
            (ProvisionerKind::Shell(p), "remote_path") => s(v).map(|x| p.remote_path = x),
            (ProvisionerKind::Shell(p), "inline_shebang") => s(v).map(|x| p.inline_shebang = x),
            (ProvisionerKind::Shell(p), "expect_disconnect") => {
                b(v).map(|x| p.expect_disconnect = x)
            }
            (ProvisionerKind::Shell(p), "skip_clean") => b(v).map(|x| p.skip_clean = x),
            (ProvisionerKind::Shell(p), "binary") => b(v).map(|x| p.binary = x),
            (ProvisionerKind::Shell(p), "use_env_var_file") => b(v).map(|x| p.use_env_var_file = x),
            (ProvisionerKind::Shell(p), "start_retry_timeout") => d(v)
                .map(|x| p.start_retry_timeout = x.unwrap_or(GoDuration(Duration::from_secs(300)))),
            (ProvisionerKind::Shell(p), "pause_after") => d(v).map(|x| p.pause_after = x),
            (ProvisionerKind::Shell(p), "valid_exit_codes") => {
                codes(v).map(|x| p.valid_exit_codes = x)
            }
            (ProvisionerKind::File(p), "source") => s(v).map(|x| p.source = x),
            (ProvisionerKind::File(p), "sources") => l(v).map(|x| p.sources = x),
            (ProvisionerKind::File(p), "content") => s(v).map(|x| p.content = x),
            (ProvisionerKind::File(p), "destination") => s(v).map(|x| p.destination = x),
            (ProvisionerKind::File(p), "generated") => b(v).map(|x| p.generated = x),
            (ProvisionerKind::File(p), "direction") => match v.as_str() {
                Some("upload") => {
                    p.direction = Direction::Upload;
                    Ok(())
                }
                Some("download") => {
                    p.direction = Direction::Download;
                    Ok(())
                }
                _ => Err("expected \"upload\" or \"download\"".into()),
            },
            (ProvisionerKind::ShellLocal(p), "command") => s(v).map(|x| p.command = x),
            (ProvisionerKind::ShellLocal(p), "inline") => l(v).map(|x| p.inline = x),
            (ProvisionerKind::ShellLocal(p), "script") => s(v).map(|x| p.script = x),
            (ProvisionerKind::ShellLocal(p), "scripts") => l(v).map(|x| p.scripts = x),
            (ProvisionerKind::ShellLocal(p), "environment_vars") => {
                l(v).map(|x| p.environment_vars = x)
            }
            (ProvisionerKind::ShellLocal(p), "env") => m(v).map(|x| p.env = x),
            (ProvisionerKind::ShellLocal(p), "execute_command") => {
                l(v).map(|x| p.execute_command = x)
            }
            (ProvisionerKind::ShellLocal(p), "inline_shebang") => {
                s(v).map(|x| p.inline_shebang = x)
            }
            (ProvisionerKind::ShellLocal(p), "valid_exit_codes") => {
                codes(v).map(|x| p.valid_exit_codes = x)
            }
            (ProvisionerKind::ShellLocal(p), "env_var_format") => {
                s(v).map(|x| p.env_var_format = x)
            }
            (ProvisionerKind::ShellLocal(p), "only_on") => plain_list(v).map(|x| p.only_on = x),
            (ProvisionerKind::ShellLocal(p), "use_linux_pathing") => {
                b(v).map(|x| p.use_linux_pathing = x)
            }
            (ProvisionerKind::ShellLocal(p), "tempfile_extension") => {
                plain(v).map(|x| p.tempfile_extension = x)
            }
            (ProvisionerKind::Breakpoint(p), "note") => s(v).map(|x| p.note = x),
            (ProvisionerKind::Breakpoint(p), "disable") => b(v).map(|x| p.disable = x),
            _ => Err(format!(
                "\"{name}\" is not a field of provisioner \"{}\"",
                kind_name(kind)
            )),
        };
        r.map_err(bad)?;
    }
    check_overridden(kind)
}

/// Packer validates a provisioner after merging its override, so an override can make it
/// invalid (an `inline` over a block that has `script`); say so instead of running both.
fn check_overridden(kind: &ProvisionerKind) -> std::result::Result<(), String> {
    match kind {
        ProvisionerKind::Shell(p) => {
            let (inline, script, scripts) =
                (p.inline.is_some(), p.script.is_some(), p.scripts.is_some());
            if script && scripts {
                return Err("after the override both \"script\" and \"scripts\" are set; override one to null".into());
            }
            if inline && (script || scripts) {
                return Err("after the override both \"inline\" and a script file are set; override the other to null".into());
            }
            if !(inline || script || scripts) {
                return Err(
                    "after the override no \"inline\", \"script\" or \"scripts\" is left".into(),
                );
            }
        }
        ProvisionerKind::File(p) => {
            if p.content.is_some() && (p.source.is_some() || p.sources.is_some()) {
                return Err("after the override both \"content\" and a source are set; override the other to null".into());
            }
            if p.destination.is_none() {
                return Err("after the override \"destination\" is not set".into());
            }
        }
        ProvisionerKind::ShellLocal(p) => {
            let set = [
                p.command.is_some(),
                p.inline.is_some(),
                p.script.is_some(),
                p.scripts.is_some(),
            ];
            match set.iter().filter(|x| **x).count() {
                0 => {
                    return Err("after the override no \"command\", \"inline\", \"script\" or \"scripts\" is left".into());
                }
                1 => {}
                _ => {
                    return Err("after the override more than one of \"command\", \"inline\", \"script\" and \"scripts\" is set; override the others to null".into());
                }
            }
            if p.use_linux_pathing {
                return Err("use_linux_pathing is for the Windows Subsystem for Linux and fails on Linux, as in Packer".into());
            }
        }
        ProvisionerKind::Breakpoint(_) => {}
    }
    Ok(())
}

/// Packer's environment: `PACKER_BUILD_NAME`, `PACKER_BUILDER_TYPE`, `environment_vars`, then
/// `env`, sorted by name (later definitions win).
fn environment(
    ctx: &BuildContext,
    vars: Option<Vec<String>>,
    env: Option<BTreeMap<String, String>>,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    out.insert("PACKER_BUILD_NAME".to_string(), ctx.source_name.clone());
    out.insert("PACKER_BUILDER_TYPE".to_string(), ctx.source_type.clone());
    for kv in vars.unwrap_or_default() {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(ProvisionError::new(format!(
                "environment variable not in format 'key=value': \"{kv}\""
            )));
        };
        out.insert(k.to_string(), v.to_string());
    }
    out.extend(env.unwrap_or_default());
    Ok(out)
}

/// The `{{.Vars}}` text: each variable through `env_var_format` (default `%s='%s' `), with
/// single quotes in values escaped for the shell as Packer does.
fn flatten_env(env: &BTreeMap<String, String>, format: Option<&str>) -> String {
    let format = format.unwrap_or("%s='%s' ");
    // Split once, so a `%s` inside a name or value is never taken for a placeholder.
    let parts: Vec<&str> = format.splitn(3, "%s").collect();
    env.iter()
        .map(|(k, v)| {
            let v = v.replace('\'', "'\"'\"'");
            match parts.as_slice() {
                [a, b, c] => format!("{a}{k}{b}{v}{c}"),
                [a, b] => format!("{a}{k}{b}"),
                _ => format.to_string(),
            }
        })
        .collect()
}

/// Fills the Go-template placeholders `{{.Name}}` (spaces inside the braces allowed).
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in values {
        for form in [format!("{{{{.{name}}}}}"), format!("{{{{ .{name} }}}}")] {
            out = out.replace(&form, value);
        }
    }
    out
}

/// Collects output chunks into lines and emits one event per line.
struct LineEmitter {
    ctx: BuildContext,
    provisioner: String,
    stream: Stream,
    buf: Vec<u8>,
}

impl LineEmitter {
    fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        while let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=i).collect();
            self.emit(&line[..line.len() - 1]);
        }
    }

    fn emit(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        self.ctx
            .output(&self.provisioner, self.stream, text.to_string());
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            self.emit(&rest);
        }
    }
}

fn sink(emitter: &Arc<Mutex<LineEmitter>>) -> OutputSink {
    let e = Arc::clone(emitter);
    OutputSink::Callback(Box::new(move |data: &[u8]| {
        if let Ok(mut e) = e.lock() {
            e.push(data);
        }
    }))
}

fn emitter(ctx: &BuildContext, provisioner: &str, stream: Stream) -> Arc<Mutex<LineEmitter>> {
    Arc::new(Mutex::new(LineEmitter {
        ctx: ctx.clone(),
        provisioner: provisioner.into(),
        stream,
        buf: Vec::new(),
    }))
}

fn flush(e: &Arc<Mutex<LineEmitter>>) {
    if let Ok(mut e) = e.lock() {
        e.flush();
    }
}

/// Packer 1.6's error for an exit code not in `valid_exit_codes`, word for word (it has no
/// space after the first period), for `shell` and `shell-local` alike.
fn check_code(code: i64, valid: &[i64]) -> Result<()> {
    if valid.contains(&code) {
        return Ok(());
    }
    let allowed = valid
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    Err(ProvisionError::new(format!(
        "Script exited with non-zero exit status: {code}.Allowed exit codes are: [{allowed}]"
    )))
}

/// Packer's defaults of `env_var_format` and `execute_command`, which change with
/// `use_env_var_file`: the variables are then exported from a sourced file.
fn shell_defaults(use_env_var_file: bool) -> (&'static str, &'static str) {
    if use_env_var_file {
        (
            "export %s='%s'\n",
            "chmod +x {{.Path}}; . {{.EnvVarFile}} && {{.Path}}",
        )
    } else {
        ("%s='%s' ", "chmod +x {{.Path}}; {{.Vars}} {{.Path}}")
    }
}

async fn run_shell(
    s: &ShellProvisioner,
    ctx: &BuildContext,
    comm: &dyn Communicator,
    deadline: Option<Instant>,
) -> Result<()> {
    let (default_format, default_execute) = shell_defaults(s.use_env_var_file);
    let env = environment(ctx, ctx.list(&s.environment_vars)?, ctx.map(&s.env)?)?;
    let format = ctx
        .text(&s.env_var_format)?
        .unwrap_or_else(|| default_format.into());
    let vars = flatten_env(&env, Some(&format));
    let execute = ctx
        .text(&s.execute_command)?
        .unwrap_or_else(|| default_execute.into());
    let folder = ctx.text(&s.remote_folder)?.unwrap_or_else(|| "/tmp".into());
    let folder = folder.trim_end_matches('/');
    let remote_path = match ctx.text(&s.remote_path)? {
        Some(p) => p,
        None => {
            let file = match ctx.text(&s.remote_file)? {
                Some(f) => f,
                None => format!("script_{}.sh", rand::rng().random_range(0..10_000u32)),
            };
            format!("{folder}/{file}")
        }
    };
    // (shown name, script bytes)
    let mut scripts: Vec<(String, Vec<u8>)> = Vec::new();
    let mut inline_file = None;
    if let Some(lines) = ctx.list(&s.inline)? {
        let shebang = ctx
            .text(&s.inline_shebang)?
            .unwrap_or_else(|| "/bin/sh -e".into());
        let mut text = format!("#!{shebang}\n");
        for l in lines {
            text.push_str(&l);
            text.push('\n');
        }
        // Packer writes the inline commands to a local `packer-shell*` file, names the script
        // by that path, and removes the file when the provisioner ends.
        let mut local = tempfile::Builder::new()
            .prefix("packer-shell")
            .tempfile()
            .map_err(|e| ProvisionError::new(format!("cannot create a temporary file: {e}")))?;
        std::io::Write::write_all(&mut local, text.as_bytes()).map_err(|e| {
            ProvisionError::new(format!("cannot write {}: {e}", local.path().display()))
        })?;
        scripts.push((local.path().display().to_string(), text.into_bytes()));
        inline_file = Some(local);
    }
    let mut files = Vec::new();
    files.extend(ctx.text(&s.script)?);
    files.extend(ctx.list(&s.scripts)?.unwrap_or_default());
    for f in files {
        let path = ctx.local_path(&f);
        let mut data = std::fs::read(&path).map_err(|e| {
            ProvisionError::new(format!("cannot read script {}: {e}", path.display()))
        })?;
        if !s.binary {
            // Packer converts Windows line endings of text scripts.
            data = String::from_utf8_lossy(&data)
                .replace("\r\n", "\n")
                .into_bytes();
        }
        scripts.push((f, data));
    }
    // Packer writes the variables once, readable by the login user only, and sources the file
    // before every script of this provisioner.
    let env_var_file = if s.use_env_var_file {
        let path = format!(
            "{folder}/varfile_{}.sh",
            rand::rng().random_range(0..10_000u32)
        );
        upload_with_retry(
            comm,
            vars.as_bytes(),
            &path,
            0o600,
            "environment variable file",
            s.start_retry_timeout.0,
        )
        .await?;
        Some(path)
    } else {
        None
    };
    let ran = run_scripts(
        s,
        ctx,
        comm,
        deadline,
        &scripts,
        &execute,
        &vars,
        &remote_path,
        env_var_file.as_deref().unwrap_or(""),
    )
    .await;
    if let (Some(path), false) = (&env_var_file, s.skip_clean) {
        // After a failed script the file is still removed; the script's error comes first.
        let removed = remove_remote(comm, path, "environment variable file").await;
        ran?;
        removed?;
    } else {
        ran?;
    }
    drop(inline_file);
    // Once, after every script of the provisioner, as Packer does.
    if let Some(p) = s.pause_after {
        ctx.say(format!(
            "Pausing {} after this provisioner...",
            go_duration(p.0)
        ));
        tokio::time::sleep(p.0).await;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn run_scripts(
    s: &ShellProvisioner,
    ctx: &BuildContext,
    comm: &dyn Communicator,
    deadline: Option<Instant>,
    scripts: &[(String, Vec<u8>)],
    execute: &str,
    vars: &str,
    remote_path: &str,
    env_var_file: &str,
) -> Result<()> {
    for (name, data) in scripts {
        ctx.say(format!("Provisioning with shell script: {name}"));
        upload_with_retry(
            comm,
            data,
            remote_path,
            0o755,
            "script",
            s.start_retry_timeout.0,
        )
        .await?;
        let command = fill(
            execute,
            &[
                ("Vars", vars),
                ("Path", remote_path),
                ("EnvVarFile", env_var_file),
            ],
        );
        let out = emitter(ctx, "shell", Stream::Stdout);
        let err = emitter(ctx, "shell", Stream::Stderr);
        let opts = ExecOptions {
            timeout: remaining(deadline),
            stdout: sink(&out),
            stderr: sink(&err),
            expect_disconnect: s.expect_disconnect,
        };
        let status = comm.exec(&command, &[], opts).await;
        flush(&out);
        flush(&err);
        let status =
            status.map_err(|e| ProvisionError::new(format!("error running script {name}: {e}")))?;
        match &status {
            ExitStatus::Code(c) => check_code(i64::from(*c), &s.valid_exit_codes)?,
            ExitStatus::Disconnected => {
                ctx.say("Remote end disconnected as expected; reconnecting...");
                comm.reconnect(s.start_retry_timeout.0).await.map_err(|e| {
                    ProvisionError::new(format!("reconnecting after the expected disconnect: {e}"))
                })?;
            }
            ExitStatus::Signal { name: sig, .. } => {
                return Err(ProvisionError::new(format!(
                    "script {name} was killed by signal {sig}"
                )));
            }
        }
        if !s.skip_clean {
            remove_remote(comm, remote_path, "script").await?;
        }
    }
    Ok(())
}

/// Runs a short command of the provisioners' own (no environment, default options) that must
/// be done within a minute.
async fn housekeeping(comm: &dyn Communicator, command: &str) -> cce_remote::Result<ExitStatus> {
    let options = ExecOptions {
        timeout: Some(Duration::from_secs(60)),
        ..Default::default()
    };
    comm.exec(command, &[], options).await
}

/// Removes a temporary file the provisioner uploaded.
async fn remove_remote(comm: &dyn Communicator, path: &str, what: &str) -> Result<()> {
    let st = housekeeping(comm, &format!("rm -f {}", shell_quote(path)))
        .await
        .map_err(|e| {
            ProvisionError::new(format!("error removing temporary {what} at {path}: {e}"))
        })?;
    if !st.success() {
        return Err(ProvisionError::new(format!(
            "error removing temporary {what} at {path}: {st}"
        )));
    }
    Ok(())
}

/// Uploads a file of the provisioner, retrying with reconnects for up to `start_retry_timeout`
/// (the machine may be rebooting after an `expect_disconnect` provisioner, or its folder may not
/// exist yet).
async fn upload_with_retry(
    comm: &dyn Communicator,
    data: &[u8],
    remote: &str,
    mode: u32,
    what: &str,
    start_retry_timeout: Duration,
) -> Result<()> {
    let start = Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match comm.upload_bytes(data, remote, mode).await {
            Ok(_) => return Ok(()),
            Err(e) => {
                let left = start_retry_timeout.saturating_sub(start.elapsed());
                if left.is_zero() {
                    return Err(ProvisionError::new(format!(
                        "error uploading {what} to {remote}: {e}"
                    )));
                }
                tracing::debug!(attempt, error = %e, "upload of the {what} failed; retrying");
                tokio::time::sleep(backoff(attempt).min(left)).await;
                // A failed reconnect is retried by the next round until the budget is spent.
                let _ = comm
                    .reconnect(
                        start_retry_timeout
                            .saturating_sub(start.elapsed())
                            .max(Duration::from_secs(1)),
                    )
                    .await;
            }
        }
    }
}

async fn run_file(f: &FileProvisioner, ctx: &BuildContext, comm: &dyn Communicator) -> Result<()> {
    let dst = ctx.text(&f.destination)?.ok_or_else(|| {
        ProvisionError::new("destination must be specified in provisioner \"file\"")
    })?;
    let mut sources = Vec::new();
    sources.extend(ctx.text(&f.source)?);
    sources.extend(ctx.list(&f.sources)?.unwrap_or_default());
    if let Some(content) = ctx.text(&f.content)? {
        ctx.say(format!("Uploading content => {dst}"));
        let progress = ctx.upload_progress("upload content");
        comm.upload_bytes_with_progress(content.as_bytes(), &dst, 0o644, Some(progress))
            .await
            .map_err(|e| ProvisionError::new(format!("error uploading content to {dst}: {e}")))?;
        return Ok(());
    }
    for src in sources {
        match f.direction {
            Direction::Upload => {
                let local = ctx.local_path(&src);
                ctx.say(format!("Uploading {src} => {dst}"));
                let meta = std::fs::metadata(&local).map_err(|e| {
                    ProvisionError::new(format!(
                        "cannot read {}: {e}; check the path in \"source\"",
                        local.display()
                    ))
                })?;
                // Packer: a directory with a trailing slash sends its contents into the
                // destination. Without one it is sent as itself: over sftp always into
                // `destination/NAME`; over scp (the default) like `scp -r`, into
                // `destination/NAME` when the destination is a directory already, else as the
                // destination itself.
                let remote = if meta.is_dir() && !src.ends_with('/') {
                    let base = local
                        .file_name()
                        .map(|b| b.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let inside = format!("{}/{base}", dst.trim_end_matches('/'));
                    match comm.transfer_method() {
                        TransferMethod::Sftp => inside,
                        TransferMethod::Tar => {
                            if remote_is_dir(comm, &dst).await? {
                                inside
                            } else {
                                dst.clone()
                            }
                        }
                    }
                } else {
                    dst.clone()
                };
                let progress = ctx.upload_progress(format!("upload {src}"));
                comm.upload_with_progress(&local, &remote, Some(progress))
                    .await
                    .map_err(|e| {
                        ProvisionError::new(format!("error uploading {src} to {dst}: {e}"))
                    })?;
            }
            Direction::Download => {
                ctx.say(format!("Downloading {src} => {dst}"));
                let mut local = ctx.local_path(&dst);
                if dst.ends_with('/') {
                    let base = Path::new(src.trim_end_matches('/'))
                        .file_name()
                        .map(|b| b.to_os_string())
                        .unwrap_or_default();
                    local = local.join(base);
                }
                if let Some(parent) = local.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        ProvisionError::new(format!("cannot create {}: {e}", parent.display()))
                    })?;
                }
                comm.download(&src, &local).await.map_err(|e| {
                    ProvisionError::new(format!("error downloading {src} to {dst}: {e}"))
                })?;
            }
        }
    }
    Ok(())
}

/// Whether `path` is a directory on the machine.
async fn remote_is_dir(comm: &dyn Communicator, path: &str) -> Result<bool> {
    let status = housekeeping(comm, &format!("test -d {}", shell_quote(path)))
        .await
        .map_err(|e| {
            ProvisionError::new(format!("cannot check whether {path} is a directory: {e}"))
        })?;
    Ok(status.success())
}

fn run_breakpoint(b: &Breakpoint, ctx: &BuildContext) -> Result<()> {
    let note = ctx.text(&b.note)?.unwrap_or_default();
    if b.disable {
        ctx.say(format!(
            "Breakpoint provisioner with note \"{note}\" disabled; continuing..."
        ));
        return Ok(());
    }
    ctx.say(format!(
        "Pausing at breakpoint provisioner with note \"{note}\"."
    ));
    if std::io::stdin().is_terminal() {
        ctx.say("Press enter to continue.");
        let mut line = String::new();
        // End of input or an error both mean: go on.
        let _ = std::io::stdin().read_line(&mut line);
    } else {
        ctx.say("Standard input is not a terminal; continuing without waiting.");
    }
    Ok(())
}

/// Runs `shell-local` (provisioner or post-processor) on this machine.
pub async fn run_shell_local(
    s: &ShellLocal,
    ctx: &BuildContext,
    label: &str,
    deadline: Option<Instant>,
) -> Result<()> {
    if !s.only_on.is_empty() && !s.only_on.iter().any(|o| o == std::env::consts::OS) {
        ctx.say(format!(
            "Skipping shell-local due to the only_on setting ({})",
            s.only_on.join(", ")
        ));
        return Ok(());
    }
    let env = environment(ctx, ctx.list(&s.environment_vars)?, ctx.map(&s.env)?)?;
    let vars = flatten_env(&env, ctx.text(&s.env_var_format)?.as_deref());
    let execute = ctx.list(&s.execute_command)?.unwrap_or_else(|| {
        vec![
            "/bin/sh".into(),
            "-c".into(),
            "{{.Vars}} {{.Script}}".into(),
        ]
    });
    if execute.is_empty() {
        return Err(ProvisionError::new(
            "execute_command of shell-local is empty; give the program and its arguments",
        ));
    }
    // Scripts are named as written; they run in the working directory.
    let mut scripts: Vec<String> = Vec::new();
    let mut inline = ctx.list(&s.inline)?;
    if let Some(c) = ctx.text(&s.command)? {
        inline = Some(vec![c]);
    }
    // Packer writes inline commands to a `packer-shell*` temporary file; it goes when this
    // is dropped, at the end of the provisioner.
    let mut inline_file = None;
    if let Some(lines) = inline {
        let shebang = ctx
            .text(&s.inline_shebang)?
            .unwrap_or_else(|| "/bin/sh -e".into());
        let mut text = format!("#!{shebang}\n");
        for l in lines {
            text.push_str(&l);
            text.push('\n');
        }
        // Packer takes the extension with or without its dot.
        let ext = s
            .tempfile_extension
            .as_deref()
            .map(|e| e.trim_start_matches('.'))
            .filter(|e| !e.is_empty())
            .map(|e| format!(".{e}"))
            .unwrap_or_default();
        let file = tempfile::Builder::new()
            .prefix("packer-shell")
            .suffix(&ext)
            .tempfile()
            .map_err(|e| ProvisionError::new(format!("cannot create a temporary file: {e}")))?;
        // Closed before it runs: Linux refuses to execute a file open for writing.
        let path = file.into_temp_path();
        write_executable(&path, text.as_bytes())?;
        scripts.push(path.display().to_string());
        inline_file = Some(path);
    }
    scripts.extend(ctx.text(&s.script)?);
    scripts.extend(ctx.list(&s.scripts)?.unwrap_or_default());
    for shown in scripts {
        ctx.say(format!("Running local shell script: {shown}"));
        // Shown as written, run by its absolute path, as Packer does.
        let absolute = ctx.local_path(&shown).display().to_string();
        let argv: Vec<String> = execute
            .iter()
            .map(|a| fill(a, &[("Vars", &vars), ("Script", &absolute)]))
            .collect();
        let mut cmd = tokio::process::Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .envs(&env)
            // Packer's own environment carries the run's id to its local scripts.
            .env("PACKER_RUN_UUID", &ctx.run_uuid)
            .current_dir(&ctx.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| ProvisionError::new(format!("cannot run {}: {e}", argv[0])))?;
        let pid = child.id();
        let out = child.stdout.take().map(|o| {
            tokio::spawn(pump_lines(
                o,
                ctx.clone(),
                label.to_string(),
                Stream::Stdout,
            ))
        });
        let err = child.stderr.take().map(|o| {
            tokio::spawn(pump_lines(
                o,
                ctx.clone(),
                label.to_string(),
                Stream::Stderr,
            ))
        });
        let waited = match remaining(deadline) {
            None => Ok(child.wait().await),
            Some(left) => tokio::time::timeout(left, child.wait()).await,
        };
        let status = match waited {
            Ok(s) => s.map_err(|e| ProvisionError::new(format!("waiting for {}: {e}", argv[0])))?,
            Err(_) => {
                if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                    // The whole group: the script's children die with it.
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                let _ = child.wait().await;
                return Err(ProvisionError::new(format!(
                    "local script {shown} ran past its timeout and was killed"
                )));
            }
        };
        for h in [out, err].into_iter().flatten() {
            let _ = h.await;
        }
        match status.code() {
            Some(c) => check_code(i64::from(c), &s.valid_exit_codes)?,
            None => {
                return Err(ProvisionError::new(format!(
                    "local script {shown} was killed by a signal"
                )));
            }
        }
    }
    drop(inline_file);
    Ok(())
}

fn write_executable(path: &Path, data: &[u8]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, data)
        .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)))
        .map_err(|e| ProvisionError::new(format!("cannot write {}: {e}", path.display())))
}

async fn pump_lines(r: impl AsyncRead + Unpin, ctx: BuildContext, label: String, stream: Stream) {
    let mut lines = BufReader::new(r).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        ctx.output(&label, stream, line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_is_flattened_with_quotes_escaped() {
        let mut env = BTreeMap::new();
        env.insert("B".to_string(), "it's".to_string());
        env.insert("A".to_string(), "1".to_string());
        assert_eq!(flatten_env(&env, None), "A='1' B='it'\"'\"'s' ");
        assert_eq!(
            flatten_env(&env, Some("export %s=\"%s\"; ")),
            "export A=\"1\"; export B=\"it'\"'\"'s\"; "
        );
    }

    #[test]
    fn placeholders_are_filled() {
        assert_eq!(
            fill(
                "chmod +x {{.Path}}; {{ .Vars }} {{.Path}}",
                &[("Vars", "A='1'"), ("Path", "/tmp/s.sh")]
            ),
            "chmod +x /tmp/s.sh; A='1' /tmp/s.sh"
        );
    }

    #[test]
    fn only_and_except() {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(applies_to(&[], &[], "null.a"));
        assert!(applies_to(&v(&["null.a"]), &[], "null.a"));
        assert!(!applies_to(&v(&["null.b"]), &[], "null.a"));
        assert!(!applies_to(&[], &v(&["null.a"]), "null.a"));
    }

    /// A value of the field's type that differs from every default.
    fn sample(name: &str, ty: cce_template::schema::fields::Ty) -> serde_json::Value {
        use cce_template::schema::fields::Ty;
        match (name, ty) {
            ("direction", _) => serde_json::json!("download"),
            (_, Ty::Bool) => serde_json::json!(true),
            (_, Ty::Number) => serde_json::json!(7),
            (_, Ty::Duration) => serde_json::json!("7s"),
            (_, Ty::StringList) => serde_json::json!(["7"]),
            (_, Ty::StringMap) => serde_json::json!({"K": "V"}),
            _ => serde_json::json!("x-override"),
        }
    }

    fn blank(ty: &str) -> ProvisionerKind {
        use cce_template::schema::provisioners::*;
        match ty {
            "file" => ProvisionerKind::File(FileProvisioner {
                source: Some(Deferrable::Known("s".into())),
                sources: None,
                content: None,
                destination: Some(Deferrable::Known("/d".into())),
                direction: Direction::Upload,
                generated: false,
            }),
            "shell" => ProvisionerKind::Shell(ShellProvisioner {
                inline: Some(Deferrable::Known(vec!["true".into()])),
                script: None,
                scripts: None,
                environment_vars: None,
                env: None,
                env_var_format: None,
                execute_command: None,
                remote_folder: None,
                remote_file: None,
                remote_path: None,
                inline_shebang: None,
                expect_disconnect: false,
                valid_exit_codes: vec![0],
                skip_clean: false,
                start_retry_timeout: GoDuration(Duration::from_secs(300)),
                pause_after: None,
                use_env_var_file: false,
                binary: false,
            }),
            "shell-local" => ProvisionerKind::ShellLocal(ShellLocal {
                command: None,
                inline: Some(Deferrable::Known(vec!["true".into()])),
                script: None,
                scripts: None,
                environment_vars: None,
                env: None,
                env_var_format: None,
                execute_command: None,
                inline_shebang: None,
                only_on: Vec::new(),
                valid_exit_codes: vec![0],
                use_linux_pathing: false,
                tempfile_extension: None,
            }),
            _ => ProvisionerKind::Breakpoint(Breakpoint {
                note: None,
                disable: false,
            }),
        }
    }

    #[test]
    fn every_schema_field_can_be_overridden() {
        use cce_template::schema::provisioners::PROVISIONER_TYPES;
        for (ty, fields) in PROVISIONER_TYPES {
            for f in *fields {
                let mut kind = blank(ty);
                let before = kind.clone();
                let mut map = serde_json::Map::new();
                map.insert(f.name.to_string(), sample(f.name, f.ty));
                // Fields exclusive with the blank's own are cleared in the same override.
                match (*ty, f.name) {
                    ("shell" | "shell-local", "script" | "scripts" | "command") => {
                        map.insert("inline".into(), serde_json::Value::Null);
                    }
                    ("file", "content") => {
                        map.insert("source".into(), serde_json::Value::Null);
                    }
                    _ => {}
                }
                let r = apply_override(&mut kind, &map);
                if (*ty, f.name) == ("shell-local", "use_linux_pathing") {
                    // Read, and refused when true, as the block itself is.
                    assert!(r.unwrap_err().contains("Windows Subsystem for Linux"));
                    continue;
                }
                assert_eq!(r, Ok(()), "{ty}.{}", f.name);
                assert_ne!(kind, before, "{ty}.{} did not change", f.name);
            }
        }
    }

    #[test]
    fn overrides_are_checked_like_the_block() {
        let mut kind = blank("shell");
        let mut map = serde_json::Map::new();
        map.insert("script".into(), serde_json::json!("x.sh"));
        let e = apply_override(&mut kind, &map).unwrap_err();
        assert!(e.contains("both \"inline\" and a script file"), "{e}");
        let mut map = serde_json::Map::new();
        map.insert("start_retry_timeout".into(), serde_json::json!("soon"));
        let e = apply_override(&mut blank("shell"), &map).unwrap_err();
        assert!(
            e.starts_with("override of \"start_retry_timeout\": expected a duration"),
            "{e}"
        );
        let mut map = serde_json::Map::new();
        map.insert("no_such".into(), serde_json::json!(1));
        let e = apply_override(&mut blank("breakpoint"), &map).unwrap_err();
        assert!(
            e.contains("not a field of provisioner \"breakpoint\""),
            "{e}"
        );
    }

    #[test]
    fn env_var_file_defaults_follow_packer() {
        let mut env = BTreeMap::new();
        env.insert("A".to_string(), "it's".to_string());
        let (format, execute) = shell_defaults(true);
        assert_eq!(flatten_env(&env, Some(format)), "export A='it'\"'\"'s'\n");
        assert_eq!(
            execute,
            "chmod +x {{.Path}}; . {{.EnvVarFile}} && {{.Path}}"
        );
        assert_eq!(shell_defaults(false).0, "%s='%s' ");
        // A `%s` inside a value stays text.
        env.insert("A".to_string(), "%s".to_string());
        assert_eq!(flatten_env(&env, None), "A='%s' ");
    }

    #[test]
    fn exit_codes() {
        assert!(check_code(3, &[0, 3]).is_ok());
        let e = check_code(3, &[0]).unwrap_err();
        assert_eq!(
            e.message,
            "Script exited with non-zero exit status: 3.Allowed exit codes are: [0]"
        );
    }
}
