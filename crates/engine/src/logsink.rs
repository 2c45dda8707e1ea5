//! The debug log, switched on as in Packer: `PACKER_LOG` set to anything but `""` or `"0"` sends
//! debug-level logs to stderr, or to the file named by `PACKER_LOG_PATH` (created or truncated,
//! as Packer does; when the path is an existing directory, to `packer_<YYYYMMDDhhmmss>.log`
//! inside it). Every byte goes through the [`Redactor`]: a tracing event is formatted into a
//! buffer, redacted as a whole and written with one call, so lines of concurrent tasks never
//! interleave and a secret is never split between writes.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use tracing_subscriber::fmt::MakeWriter;

use crate::redact::Redactor;

/// Errors of the log sink.
#[derive(Debug, thiserror::Error)]
pub enum LogSinkError {
    #[error("cannot open the log file {path} named by PACKER_LOG_PATH: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("a global log subscriber is already installed")]
    AlreadyInstalled,
}

/// Where debug logs go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    Off,
    Stderr,
    File(PathBuf),
}

/// `packer_<YYYYMMDDhhmmss>.log` for a time (UTC).
pub fn default_log_file_name(now: OffsetDateTime) -> String {
    let t = now.to_offset(time::UtcOffset::UTC);
    format!(
        "packer_{:04}{:02}{:02}{:02}{:02}{:02}.log",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Decides the log target from an injected environment; relative paths are taken from `cwd`.
pub fn log_target(env: &HashMap<String, String>, cwd: &Path, now: OffsetDateTime) -> LogTarget {
    match env.get("PACKER_LOG").map(String::as_str) {
        None | Some("") | Some("0") => return LogTarget::Off,
        Some(_) => {}
    }
    let Some(path) = env.get("PACKER_LOG_PATH").filter(|p| !p.is_empty()) else {
        return LogTarget::Stderr;
    };
    let path = cwd.join(path);
    if path.is_dir() {
        return LogTarget::File(path.join(default_log_file_name(now)));
    }
    LogTarget::File(path)
}

/// [`log_target`] at the current time.
pub fn log_target_now(env: &HashMap<String, String>, cwd: &Path) -> LogTarget {
    log_target(env, cwd, OffsetDateTime::now_utc())
}

type SharedSink = Arc<Mutex<Box<dyn Write + Send>>>;

/// A `tracing-subscriber` writer factory that redacts each formatted event before writing it.
#[derive(Clone)]
pub struct RedactingMakeWriter {
    sink: SharedSink,
    redactor: Redactor,
}

impl RedactingMakeWriter {
    pub fn new(sink: impl Write + Send + 'static, redactor: Redactor) -> Self {
        Self {
            sink: Arc::new(Mutex::new(Box::new(sink))),
            redactor,
        }
    }

    /// Opens the target (`None` when logging is off).
    pub fn for_target(
        target: &LogTarget,
        redactor: Redactor,
    ) -> Result<Option<Self>, LogSinkError> {
        match target {
            LogTarget::Off => Ok(None),
            LogTarget::Stderr => Ok(Some(Self::new(io::stderr(), redactor))),
            LogTarget::File(path) => {
                // Owner-only: a debug log describes the build in detail even when redacted.
                let file = OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|source| LogSinkError::Open {
                        path: path.clone(),
                        source,
                    })?;
                Ok(Some(Self::new(file, redactor)))
            }
        }
    }
}

/// Buffers one formatted event; redacts and writes it when dropped or flushed.
pub struct RedactingEventWriter {
    buf: Vec<u8>,
    sink: SharedSink,
    redactor: Redactor,
}

impl RedactingEventWriter {
    fn emit(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = self.redactor.redact_bytes(&self.buf).into_owned();
        self.buf.clear();
        // Poisoning only means a panic mid-write elsewhere; the sink is still usable.
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        sink.write_all(&text)?;
        sink.flush()
    }
}

impl Write for RedactingEventWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.emit()
    }
}

impl Drop for RedactingEventWriter {
    fn drop(&mut self) {
        // A log line that cannot be written must not fail the build.
        let _ = self.emit();
    }
}

impl<'a> MakeWriter<'a> for RedactingMakeWriter {
    type Writer = RedactingEventWriter;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingEventWriter {
            buf: Vec::new(),
            sink: self.sink.clone(),
            redactor: self.redactor.clone(),
        }
    }
}

/// A debug-level subscriber writing plain (uncoloured) lines through `writer`.
pub fn debug_subscriber(writer: RedactingMakeWriter) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(writer)
        .finish()
}

/// Installs the debug log for the whole process as `PACKER_LOG`/`PACKER_LOG_PATH` ask; returns
/// where logs go.
pub fn install(
    env: &HashMap<String, String>,
    cwd: &Path,
    redactor: Redactor,
) -> Result<LogTarget, LogSinkError> {
    let target = log_target(env, cwd, OffsetDateTime::now_utc());
    if let Some(writer) = RedactingMakeWriter::for_target(&target, redactor)? {
        tracing::subscriber::set_global_default(debug_subscriber(writer))
            .map_err(|_| LogSinkError::AlreadyInstalled)?;
    }
    Ok(target)
}
