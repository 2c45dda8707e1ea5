//! Errors of the sandbox room, each naming the server and what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("sandbox {id}: {what}: {source}")]
    Io { id: String, what: String, #[source] source: std::io::Error },
    #[error("sandbox {id}: `{command}` failed: {stderr}")]
    Command { id: String, command: String, stderr: String },
    #[error("sandbox {id}: sshd did not answer within {seconds} s; last lines of {log}:\n{tail}")]
    BootTimeout { id: String, seconds: u64, log: PathBuf, tail: String },
    #[error("sandbox {id}: init exited during boot ({status}); last lines of {log}:\n{tail}")]
    BootFailed { id: String, status: String, log: PathBuf, tail: String },
    #[error("sandbox {id} is {state}, not {wanted}")]
    WrongState { id: String, state: String, wanted: String },
    #[error("building the base root filesystem failed: {0}; see the debootstrap log for the cause")]
    Rootfs(String),
    #[error("image: {0}")]
    Image(String),
    #[error("sandboxes need root and namespaces: {0}")]
    Unsupported(String),
}

/// The last lines of a console log, for errors that point at it.
pub(crate) fn log_tail(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

impl SandboxError {
    pub(crate) fn io(id: &str, what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { id: id.to_string(), what: what.into(), source }
    }
}
