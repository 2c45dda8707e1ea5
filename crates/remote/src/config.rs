//! Connection settings, mirroring Packer's `ssh_*` fields, with Packer's defaults.

use std::fmt;
use std::time::Duration;

/// How to prove who we are. Secrets stay in memory and are never printed by `Debug`.
#[derive(Clone)]
pub enum Auth {
    /// A private key given as text (OpenSSH or PEM), optionally protected by a passphrase.
    /// It is parsed in memory and never written to disk.
    PrivateKey {
        text: String,
        passphrase: Option<String>,
    },
    /// A password (`ssh_password`).
    Password(String),
    /// Every identity of the agent at `SSH_AUTH_SOCK` (`ssh_agent_auth`).
    Agent,
    /// Each method in turn until the server accepts one, as Packer offers every method a
    /// template gives (agent, key, password).
    Any(Vec<Auth>),
}

impl Auth {
    /// A private key without a passphrase.
    pub fn private_key(text: impl Into<String>) -> Self {
        Auth::PrivateKey {
            text: text.into(),
            passphrase: None,
        }
    }

    /// The methods to try, in order, with nested [`Auth::Any`] flattened.
    pub fn methods(&self) -> Vec<&Auth> {
        match self {
            Auth::Any(list) => list.iter().flat_map(Auth::methods).collect(),
            other => vec![other],
        }
    }

    /// The text of the first private key among the methods (Packer's `build.SSHPrivateKey`).
    pub fn private_key_text(&self) -> Option<&str> {
        self.methods().into_iter().find_map(|m| match m {
            Auth::PrivateKey { text, .. } => Some(text.as_str()),
            _ => None,
        })
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::PrivateKey { .. } => f.write_str("PrivateKey(<redacted>)"),
            Auth::Password(_) => f.write_str("Password(<redacted>)"),
            Auth::Agent => f.write_str("Agent"),
            Auth::Any(list) => f.debug_tuple("Any").field(list).finish(),
        }
    }
}

/// A jump host (`ssh_bastion_*`): we log in there and open a `direct-tcpip` channel to the target.
#[derive(Clone, Debug)]
pub struct Bastion {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub auth: Auth,
}

/// How files travel (`ssh_file_transfer_method`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TransferMethod {
    /// One tar stream over one exec channel, extracted by the remote `tar` (the default).
    #[default]
    Tar,
    /// The SFTP subsystem.
    Sftp,
}

/// Everything needed to reach one host.
#[derive(Clone, Debug)]
pub struct SshConfig {
    pub host: String,
    /// `ssh_port`, 22 by default.
    pub port: u16,
    pub username: String,
    pub auth: Auth,
    /// Total budget to get a session (`ssh_timeout`, 5m by default).
    pub timeout: Duration,
    /// How many handshakes may fail, rejected logins included (`ssh_handshake_attempts`, 10).
    pub handshake_attempts: u32,
    /// Budget of one TCP connect + handshake + login; an attempt that hangs is abandoned.
    pub attempt_timeout: Duration,
    /// Keepalive period (`ssh_keep_alive_interval`, 5s); three unanswered keepalives drop the link.
    pub keepalive_interval: Duration,
    /// Drop the link when nothing at all arrives for this long (`ssh_read_write_timeout`, off).
    pub read_write_timeout: Option<Duration>,
    pub bastion: Option<Bastion>,
    /// Request a pseudo-terminal for commands (`ssh_pty`); stdout and stderr are then merged.
    pub pty: bool,
    /// If set, the host key must have this fingerprint (`SHA256:...`), else the login fails.
    pub expected_host_key: Option<String>,
    pub transfer: TransferMethod,
}

impl SshConfig {
    /// A configuration with Packer's defaults for everything but the target and credentials.
    pub fn new(host: impl Into<String>, username: impl Into<String>, auth: Auth) -> Self {
        SshConfig {
            host: host.into(),
            port: 22,
            username: username.into(),
            auth,
            timeout: Duration::from_secs(300),
            handshake_attempts: 10,
            attempt_timeout: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(5),
            read_write_timeout: None,
            bastion: None,
            pty: false,
            expected_host_key: None,
            transfer: TransferMethod::Tar,
        }
    }

    /// `user@host:port`, used in messages and logs.
    pub fn target(&self) -> String {
        format!("{}@{}:{}", self.username, self.host, self.port)
    }
}
