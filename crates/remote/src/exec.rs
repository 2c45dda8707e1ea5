//! Running one command: the remote wrapper that puts it in its own process group (so a timeout
//! can kill all of it), output sinks fed as data arrives, and the exit status.

use std::fmt;
use std::time::Duration;

use rand::RngExt;
use russh::ChannelMsg;

use crate::error::{Error, Result};

/// A function receiving output chunks.
pub type ChunkCallback = Box<dyn FnMut(&[u8]) + Send>;

/// Where a stream of command output goes, chunk by chunk as it arrives.
#[derive(Default)]
pub enum OutputSink {
    /// Drop the bytes.
    #[default]
    Discard,
    /// Call a function with every chunk.
    Callback(ChunkCallback),
    /// Send every chunk to a bounded channel; a slow receiver slows the remote command down.
    Channel(tokio::sync::mpsc::Sender<Vec<u8>>),
}

impl fmt::Debug for OutputSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutputSink::Discard => "Discard",
            OutputSink::Callback(_) => "Callback",
            OutputSink::Channel(_) => "Channel",
        })
    }
}

impl OutputSink {
    pub(crate) async fn deliver(&mut self, data: &[u8]) {
        match self {
            OutputSink::Discard => {}
            OutputSink::Callback(f) => f(data),
            OutputSink::Channel(tx) => {
                // A receiver that went away just stops listening; the command goes on.
                let _ = tx.send(data.to_vec()).await;
            }
        }
    }
}

/// Options of one `exec`.
#[derive(Debug, Default)]
pub struct ExecOptions {
    /// Kill the command (its whole remote process group) when it runs longer than this.
    pub timeout: Option<Duration>,
    pub stdout: OutputSink,
    pub stderr: OutputSink,
    /// The command is expected to drop the connection (a reboot): a lost link is success.
    pub expect_disconnect: bool,
}

/// How a remote command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(u32),
    /// It was killed by this signal (name without `SIG`, e.g. `KILL`).
    Signal { name: String, core_dumped: bool },
    /// The connection dropped before it ended, and `expect_disconnect` was set.
    Disconnected,
}

impl ExitStatus {
    /// Code 0, or an expected disconnect.
    pub fn success(&self) -> bool {
        matches!(self, ExitStatus::Code(0) | ExitStatus::Disconnected)
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit code {c}"),
            ExitStatus::Signal { name, .. } => write!(f, "killed by signal {name}"),
            ExitStatus::Disconnected => f.write_str("disconnected (expected)"),
        }
    }
}

/// Quotes `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Turns `env` into `export` statements, refusing names a shell would not accept.
pub(crate) fn env_prefix(env: &[(String, String)]) -> Result<String> {
    let mut out = String::new();
    for (k, v) in env {
        let valid = !k.is_empty()
            && !k.starts_with(|c: char| c.is_ascii_digit())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(Error::Config(format!(
                "environment variable name {k:?} is not a valid shell name; use letters, digits and _"
            )));
        }
        out.push_str(&format!("export {k}={}; ", shell_quote(v)));
    }
    Ok(out)
}

/// A fresh id naming the pid file of one command.
pub(crate) fn new_run_id() -> String {
    format!("{:016x}", rand::rng().random::<u64>())
}

pub(crate) fn pid_file(run_id: &str) -> String {
    format!("/tmp/.cce-remote-{run_id}.pid")
}

/// The remote command line: `sh` starts a new session (`setsid -w`, so the group id is the pid
/// written to the pid file), records it, then runs the user command; the pid file goes away
/// when the command ends.
pub(crate) fn wrap_command(
    command: &str,
    env: &[(String, String)],
    run_id: &str,
) -> Result<String> {
    let inner = format!("{}{}", env_prefix(env)?, command);
    let q = shell_quote(&inner);
    let starter = r#"'echo $$ >"$1"; exec sh -c "$2"' sh "$p""#;
    let script = format!(
        "p={pid}; if command -v setsid >/dev/null 2>&1; then setsid -w sh -c {starter} {q}; \
         else sh -c {starter} {q}; fi; rc=$?; rm -f \"$p\"; exit $rc",
        pid = pid_file(run_id),
    );
    Ok(format!("sh -c {}", shell_quote(&script)))
}

/// Kills the process group named in the pid file: TERM, up to 2s grace, then KILL; exits 1
/// if the group is still there. (dash's `kill` rejects `--`, so none is used.)
pub(crate) fn kill_command(run_id: &str) -> String {
    let script = format!(
        "p={pid}; g=$(cat \"$p\" 2>/dev/null) || exit 0; \
         kill -TERM -\"$g\" 2>/dev/null || kill -TERM \"$g\" 2>/dev/null; i=0; \
         while kill -0 -\"$g\" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done; \
         kill -KILL -\"$g\" 2>/dev/null; kill -KILL \"$g\" 2>/dev/null; sleep 0.1; rm -f \"$p\"; \
         if kill -0 -\"$g\" 2>/dev/null; then exit 1; fi; exit 0",
        pid = pid_file(run_id),
    );
    format!("sh -c {}", shell_quote(&script))
}

/// What reading one channel to its end produced.
pub(crate) enum ChannelEnd {
    Exited(ExitStatus),
    /// The channel closed without an exit status.
    Closed,
    /// The channel (or the whole session) went away without closing properly.
    Lost,
    Refused,
}

/// Reads channel messages, feeding the sinks, until the channel ends.
pub(crate) async fn pump(
    channel: &mut russh::ChannelReadHalf,
    stdout: &mut OutputSink,
    stderr: &mut OutputSink,
) -> ChannelEnd {
    let mut status = None;
    loop {
        match channel.wait().await {
            Some(ChannelMsg::Data { data }) => stdout.deliver(&data).await,
            Some(ChannelMsg::ExtendedData { data, ext: 1 }) => stderr.deliver(&data).await,
            Some(ChannelMsg::ExitStatus { exit_status }) => {
                status = Some(ExitStatus::Code(exit_status))
            }
            Some(ChannelMsg::ExitSignal {
                signal_name,
                core_dumped,
                ..
            }) => {
                status = Some(ExitStatus::Signal {
                    name: format!("{signal_name:?}"),
                    core_dumped,
                })
            }
            Some(ChannelMsg::Failure) => return ChannelEnd::Refused,
            Some(ChannelMsg::Close) => {
                return match status {
                    Some(s) => ChannelEnd::Exited(s),
                    None => ChannelEnd::Closed,
                };
            }
            Some(_) => {}
            None => {
                return match status {
                    Some(s) => ChannelEnd::Exited(s),
                    None => ChannelEnd::Lost,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_survives_single_quotes() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn env_names_are_checked() {
        assert!(env_prefix(&[("A_1".into(), "x y".into())]).is_ok());
        let err = env_prefix(&[("1A".into(), "x".into())]).unwrap_err();
        assert!(err.to_string().contains("not a valid shell name"));
        assert!(env_prefix(&[("A;rm".into(), "x".into())]).is_err());
    }

    #[test]
    fn wrapped_command_runs_locally() {
        // The wrapper is plain POSIX sh: run it here to check quoting, env and exit code.
        let cmd = wrap_command(
            "printf '%s' \"$GREETING\"; exit 7",
            &[("GREETING".into(), "it's \"ok\" $HOME".into())],
            "unit-test",
        )
        .unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(7));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's \"ok\" $HOME");
        assert!(!std::path::Path::new(&pid_file("unit-test")).exists());
    }

    #[test]
    fn exit_status_success() {
        assert!(ExitStatus::Code(0).success());
        assert!(!ExitStatus::Code(3).success());
        assert!(ExitStatus::Disconnected.success());
    }
}
