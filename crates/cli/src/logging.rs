//! The process's debug log, switched on as Packer's is: `PACKER_LOG` set to anything but `""` or
//! `"0"` turns it on; `PACKER_LOG_PATH` names the file (the user's `packer.sh` sets it to
//! `packer_<timestamp>.log` and the build copies that file into the image's `/var/log`), or a
//! directory to create `packer_<YYYYMMDDhhmmss>.log` in; without it logs go to stderr, as with
//! Packer. Where logs go is decided by [`cce_engine::logsink::log_target`].
//!
//! Every line goes through the process-wide [`Redactor`] returned by [`redactor`]: it is a
//! shared handle, so a secret registered after logging started (the build's generated private
//! key, a password read from a template) is hidden from every later line as well.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context as _;
use cce_engine::logsink::{self, LogTarget, RedactingMakeWriter};
use cce_engine::redact::Redactor;
use tracing_subscriber::EnvFilter;

/// Libraries whose debug output is per-frame or per-handshake noise that says nothing about a
/// build; they log at info and above.
const QUIET_LIBRARIES: &str =
    "h2=info,hyper=info,hyper_util=info,rustls=info,tokio_util=info,russh=info,mio=info";

#[allow(dead_code)] // the build command registers its secrets here once wired
/// The redactor shared by the debug log and every output of this process. Clones share the
/// registered secrets, so the build registers its secrets on any clone of this one.
pub fn redactor() -> Redactor {
    static SHARED: OnceLock<Redactor> = OnceLock::new();
    SHARED.get_or_init(Redactor::new).clone()
}

/// What [`setup`] installed. Dropping it does not stop logging (the subscriber is global and
/// every line is written and flushed as it is logged); it says where the log is.
#[derive(Debug)]
pub struct LogGuard {
    target: LogTarget,
    redactor: Redactor,
}

// The build command reads these once it is wired to the shared log; until then only tests do.
#[allow(dead_code)]
impl LogGuard {
    /// The log file, when logs go to one (the file the build copies into the image).
    pub fn path(&self) -> Option<&Path> {
        match &self.target {
            LogTarget::File(p) => Some(p),
            LogTarget::Off | LogTarget::Stderr => None,
        }
    }

    /// Where logs go.
    pub fn target(&self) -> &LogTarget {
        &self.target
    }

    /// Whether debug logging is on.
    pub fn enabled(&self) -> bool {
        self.target != LogTarget::Off
    }

    /// The redactor every log line goes through (shared, not a copy).
    pub fn redactor(&self) -> Redactor {
        self.redactor.clone()
    }
}

/// Starts debug logging for the whole process as `PACKER_LOG`/`PACKER_LOG_PATH` in `env` ask
/// (relative paths are taken from `cwd`). Fails when the log file cannot be created, or when a
/// global subscriber was already installed by an earlier call.
pub fn setup(
    env: &HashMap<String, String>,
    cwd: &Path,
    redactor: Redactor,
) -> anyhow::Result<LogGuard> {
    let target = logsink::log_target_now(env, cwd);
    let Some(writer) = RedactingMakeWriter::for_target(&target, redactor.clone())
        .context("set PACKER_LOG_PATH to a writable file, or unset PACKER_LOG")?
    else {
        return Ok(LogGuard { target, redactor });
    };
    let filter = EnvFilter::try_new(format!("debug,{QUIET_LIBRARIES}"))
        .context("the built-in log filter is invalid")?;
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(writer)
        .finish();
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|_| anyhow::anyhow!("debug logging was already set up in this process"))?;
    // Only the version: arguments may hold `-var` secrets that are known as such only once the
    // template is read.
    tracing::info!(
        "cce-image-builder version {} (debug log: {})",
        env!("CARGO_PKG_VERSION"),
        describe(&target)
    );
    Ok(LogGuard { target, redactor })
}

fn describe(target: &LogTarget) -> String {
    match target {
        LogTarget::Off => "off".into(),
        LogTarget::Stderr => "stderr".into(),
        LogTarget::File(p) => p.display().to_string(),
    }
}

/// The process environment as a map, for [`setup`].
pub fn process_env() -> HashMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// The working directory, or `.` when it cannot be read (a removed directory); relative log
/// paths then resolve the way the OS resolves them.
pub fn process_cwd() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}
