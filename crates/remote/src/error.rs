//! The error type of the communicator: every failure names the target and says what to do next.

use std::time::Duration;

/// Everything that can go wrong while talking to a remote host over SSH.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot be used as given (bad key text, empty host, bad env name...).
    #[error("invalid ssh configuration: {0}")]
    Config(String),

    /// `ssh_timeout` ran out before a session was established.
    #[error(
        "ssh to {target}: no session after {elapsed:?} (ssh_timeout); last error: {last}; check that the host is up, the port is open and the credentials are right"
    )]
    ConnectTimeout {
        target: String,
        elapsed: Duration,
        last: String,
    },

    /// `ssh_handshake_attempts` handshakes (including rejected logins) failed.
    #[error(
        "ssh to {target}: {attempts} handshake attempts failed (ssh_handshake_attempts); last error: {last}"
    )]
    HandshakeAttempts {
        target: String,
        attempts: u32,
        last: String,
    },

    /// The connection dropped while a command ran and no disconnect was expected.
    #[error(
        "ssh connection to {target} was lost while running `{command}`; if the command reboots or restarts sshd, set expect_disconnect"
    )]
    Disconnected { target: String, command: String },

    /// A command ran longer than its timeout; its remote process group was killed.
    #[error(
        "command `{command}` on {target} timed out after {timeout:?}; its remote process group was {kill}"
    )]
    CommandTimeout {
        target: String,
        command: String,
        timeout: Duration,
        /// Says whether the remote kill worked (it is best effort when the link is gone).
        kill: String,
    },

    /// The remote side refused to start the command (exec request denied).
    #[error("ssh server on {target} refused to run `{command}`")]
    ExecRefused { target: String, command: String },

    /// A file transfer failed; `message` carries what the remote tool printed.
    #[error("transfer {what} on {target} failed: {message}")]
    Transfer {
        target: String,
        what: String,
        message: String,
    },

    /// A local file operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// An SSH protocol error from the transport.
    #[error("ssh protocol error with {target}: {source}")]
    Ssh {
        target: String,
        #[source]
        source: russh::Error,
    },

    /// `exec`, `upload` or `download` called while no session is open.
    #[error("no ssh session to {0}; connect or reconnect first")]
    NotConnected(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
