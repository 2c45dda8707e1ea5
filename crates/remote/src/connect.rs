//! Establishing a session: TCP (directly or through a bastion), handshake, host key recording,
//! login, all retried with jittered backoff inside `ssh_timeout` and `ssh_handshake_attempts`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngExt;
use russh::client::{self, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use tracing::{debug, info, warn};

use crate::config::{Auth, SshConfig};
use crate::error::{Error, Result};

/// Client-side callbacks: records the server's host key and optionally pins it.
pub(crate) struct ClientHandler {
    seen: Arc<Mutex<Option<String>>>,
    expected: Option<String>,
}

impl client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let fingerprint = match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.fingerprint(HashAlg::Sha256),
            PublicKeyOrCertificate::Certificate(cert) => {
                cert.public_key().fingerprint(HashAlg::Sha256)
            }
        }
        .to_string();
        let accepted = self.expected.as_ref().is_none_or(|e| *e == fingerprint);
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(fingerprint);
        }
        Ok(accepted)
    }
}

/// A live session; the bastion session, if any, must outlive the tunnelled one.
pub(crate) struct Connection {
    pub handle: Handle<ClientHandler>,
    pub host_key: String,
    _bastion: Option<Handle<ClientHandler>>,
}

/// Why one attempt failed, and whether it counts against `handshake_attempts`.
struct AttemptError {
    message: String,
    handshake: bool,
}

impl AttemptError {
    fn network(message: impl Into<String>) -> Self {
        AttemptError {
            message: message.into(),
            handshake: false,
        }
    }
    fn handshake(message: impl Into<String>) -> Self {
        AttemptError {
            message: message.into(),
            handshake: true,
        }
    }
}

fn russh_config(cfg: &SshConfig) -> Arc<client::Config> {
    Arc::new(client::Config {
        keepalive_interval: Some(cfg.keepalive_interval),
        keepalive_max: 3,
        inactivity_timeout: cfg.read_write_timeout,
        nodelay: true,
        ..Default::default()
    })
}

/// Logs in on a handshaken session with `auth`, trying each of its methods in turn.
async fn authenticate(
    handle: &mut Handle<ClientHandler>,
    username: &str,
    auth: &Auth,
) -> Result<(), AttemptError> {
    let methods = auth.methods();
    if methods.is_empty() {
        return Err(AttemptError::handshake(
            "no authentication method was given",
        ));
    }
    let mut refused = Vec::new();
    for method in methods {
        match try_method(handle, username, method).await {
            Ok(true) => return Ok(()),
            Ok(false) => refused.push(format!("{} rejected", method_name(method))),
            // A broken link ends the attempt; an agent that cannot be reached does not.
            Err(e) if matches!(method, Auth::Agent) && !handle.is_closed() => {
                refused.push(e.message)
            }
            Err(e) => return Err(e),
        }
    }
    Err(AttemptError::handshake(format!(
        "authentication as {username} was rejected ({})",
        refused.join("; ")
    )))
}

fn method_name(auth: &Auth) -> &'static str {
    match auth {
        Auth::PrivateKey { .. } => "private key",
        Auth::Password(_) => "password",
        Auth::Agent => "agent keys",
        Auth::Any(_) => "methods",
    }
}

/// One login method; `Ok(false)` when the server refused it.
async fn try_method(
    handle: &mut Handle<ClientHandler>,
    username: &str,
    auth: &Auth,
) -> Result<bool, AttemptError> {
    Ok(match auth {
        Auth::PrivateKey { text, passphrase } => {
            // Parsing errors are configuration errors, checked before the first attempt.
            let key = russh::keys::decode_secret_key(text, passphrase.as_deref())
                .map_err(|e| AttemptError::handshake(format!("private key: {e}")))?;
            let hash = if key.algorithm().is_rsa() {
                handle
                    .best_supported_rsa_hash()
                    .await
                    .map_err(|e| AttemptError::handshake(e.to_string()))?
                    .flatten()
                    .or(Some(HashAlg::Sha512))
            } else {
                None
            };
            handle
                .authenticate_publickey(username, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
                .await
                .map_err(|e| AttemptError::handshake(e.to_string()))?
                .success()
        }
        Auth::Password(password) => handle
            .authenticate_password(username, password)
            .await
            .map_err(|e| AttemptError::handshake(e.to_string()))?
            .success(),
        Auth::Agent => {
            let mut agent = russh::keys::agent::client::AgentClient::connect_env()
                .await
                .map_err(|e| AttemptError::handshake(format!("ssh agent (SSH_AUTH_SOCK): {e}")))?;
            let identities = agent
                .request_identities()
                .await
                .map_err(|e| AttemptError::handshake(format!("ssh agent: {e}")))?;
            let mut ok = false;
            for identity in identities {
                let key = identity.public_key().into_owned();
                let hash = if key.algorithm().is_rsa() {
                    Some(HashAlg::Sha512)
                } else {
                    None
                };
                match handle
                    .authenticate_publickey_with(username, key, hash, &mut agent)
                    .await
                {
                    Ok(r) if r.success() => {
                        ok = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(e) => debug!("agent identity refused: {e}"),
                }
            }
            ok
        }
        // `methods` flattened every nested list.
        Auth::Any(_) => false,
    })
}

/// One handshake + login over an already open byte stream.
async fn handshake<S>(
    cfg: &SshConfig,
    stream: S,
    username: &str,
    auth: &Auth,
    expected: Option<String>,
) -> Result<(Handle<ClientHandler>, String), AttemptError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let seen = Arc::new(Mutex::new(None));
    let handler = ClientHandler {
        seen: seen.clone(),
        expected: expected.clone(),
    };
    let result = client::connect_stream(russh_config(cfg), stream, handler).await;
    let fingerprint = seen.lock().ok().and_then(|s| s.clone());
    let mut handle = match result {
        Ok(h) => h,
        Err(russh::Error::UnknownKey) => {
            return Err(AttemptError::handshake(format!(
                "host key {} does not match the expected {}",
                fingerprint.as_deref().unwrap_or("(none)"),
                expected.as_deref().unwrap_or("(none)")
            )));
        }
        Err(e) => return Err(AttemptError::handshake(format!("handshake: {e}"))),
    };
    authenticate(&mut handle, username, auth).await?;
    Ok((handle, fingerprint.unwrap_or_default()))
}

async fn tcp(
    host: &str,
    port: u16,
    limit: Duration,
) -> Result<tokio::net::TcpStream, AttemptError> {
    // A host still booting may drop SYNs: that is a network wait, not a failed handshake.
    let stream = tokio::time::timeout(limit, tokio::net::TcpStream::connect((host, port)))
        .await
        .map_err(|_| {
            AttemptError::network(format!(
                "tcp connect to {host}:{port}: no answer in {limit:?}"
            ))
        })?
        .map_err(|e| AttemptError::network(format!("tcp connect to {host}:{port}: {e}")))?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Bounds a handshake + login; a stall counts as a failed handshake.
async fn bounded<T>(
    limit: Duration,
    what: &str,
    fut: impl std::future::Future<Output = Result<T, AttemptError>>,
) -> Result<T, AttemptError> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| AttemptError::handshake(format!("{what}: no progress in {limit:?}")))?
}

async fn connect_once(cfg: &SshConfig, limit: Duration) -> Result<Connection, AttemptError> {
    match &cfg.bastion {
        None => {
            let stream = tcp(&cfg.host, cfg.port, limit).await?;
            let (handle, host_key) = bounded(
                limit,
                "ssh handshake",
                handshake(
                    cfg,
                    stream,
                    &cfg.username,
                    &cfg.auth,
                    cfg.expected_host_key.clone(),
                ),
            )
            .await?;
            Ok(Connection {
                handle,
                host_key,
                _bastion: None,
            })
        }
        Some(b) => {
            let stream = tcp(&b.host, b.port, limit).await?;
            let (bastion, bastion_key) = bounded(
                limit,
                "ssh handshake",
                handshake(cfg, stream, &b.username, &b.auth, None),
            )
            .await
            .map_err(|e| AttemptError {
                message: format!(
                    "bastion {}@{}:{}: {}",
                    b.username, b.host, b.port, e.message
                ),
                handshake: e.handshake,
            })?;
            debug!(bastion = %b.host, host_key = %bastion_key, "bastion session open");
            let open = bastion.channel_open_direct_tcpip(
                cfg.host.clone(),
                u32::from(cfg.port),
                "127.0.0.1",
                0,
            );
            let channel = tokio::time::timeout(limit, open)
                .await
                .map_err(|_| {
                    AttemptError::network(format!(
                        "bastion {} did not open a tunnel to {}:{} in {limit:?}",
                        b.host, cfg.host, cfg.port
                    ))
                })?
                .map_err(|e| {
                    AttemptError::network(format!(
                        "bastion {} could not open a tunnel to {}:{}: {e}",
                        b.host, cfg.host, cfg.port
                    ))
                })?;
            let (handle, host_key) = bounded(
                limit,
                "ssh handshake through the bastion",
                handshake(
                    cfg,
                    channel.into_stream(),
                    &cfg.username,
                    &cfg.auth,
                    cfg.expected_host_key.clone(),
                ),
            )
            .await?;
            Ok(Connection {
                handle,
                host_key,
                _bastion: Some(bastion),
            })
        }
    }
}

/// Rejects configurations that no retry can fix, before the first attempt.
pub(crate) fn validate(cfg: &SshConfig) -> Result<()> {
    if cfg.host.is_empty() {
        return Err(Error::Config("ssh_host is empty".into()));
    }
    if cfg.username.is_empty() {
        return Err(Error::Config("ssh_username is empty".into()));
    }
    let mut auths = vec![("ssh_private_key", &cfg.auth)];
    if let Some(b) = &cfg.bastion {
        auths.push(("ssh_bastion_private_key", &b.auth));
    }
    for (field, auth) in auths {
        for method in auth.methods() {
            let Auth::PrivateKey { text, passphrase } = method else {
                continue;
            };
            russh::keys::decode_secret_key(text, passphrase.as_deref()).map_err(|e| {
                Error::Config(format!(
                    "{field}: cannot parse the private key ({e}); give an OpenSSH or PEM private key"
                ))
            })?;
        }
    }
    Ok(())
}

/// Backoff before attempt `n` (0-based): 0.5s doubling up to 10s, with ±50% jitter.
pub(crate) fn backoff(n: u32) -> Duration {
    let base = 0.5_f64 * 2f64.powi(n.min(5) as i32);
    let base = base.min(10.0);
    let jitter = rand::rng().random_range(0.5..1.5);
    Duration::from_secs_f64(base * jitter)
}

/// Connects with retries until `budget` runs out or `handshake_attempts` handshakes failed.
pub(crate) async fn connect(cfg: &SshConfig, budget: Duration) -> Result<Connection> {
    validate(cfg)?;
    let target = cfg.target();
    let started = Instant::now();
    let deadline = started + budget;
    let mut handshake_failures = 0u32;
    let mut attempt = 0u32;
    let mut last = String::from("no attempt made");
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::ConnectTimeout {
                target,
                elapsed: started.elapsed(),
                last,
            });
        }
        let per_attempt = cfg.attempt_timeout.min(deadline - now);
        // An attempt the budget cut short fails for want of time; the error worth reporting is
        // then the one before it (a refused password, a closed port).
        let keep_earlier = per_attempt < cfg.attempt_timeout && attempt > 0;
        // The outer bound only guards the total budget; each phase has its own limit inside.
        match tokio::time::timeout(deadline - now, connect_once(cfg, per_attempt)).await {
            Ok(Ok(conn)) => {
                info!(target = %target, host_key = %conn.host_key, attempts = attempt + 1, "ssh session established");
                return Ok(conn);
            }
            Ok(Err(e)) => {
                if e.handshake {
                    handshake_failures += 1;
                }
                if !keep_earlier {
                    last = e.message;
                }
            }
            Err(_) if keep_earlier => {}
            Err(_) => last = format!("attempt cut by ssh_timeout after {per_attempt:?}"),
        }
        attempt += 1;
        if handshake_failures >= cfg.handshake_attempts.max(1) {
            return Err(Error::HandshakeAttempts {
                target,
                attempts: handshake_failures,
                last,
            });
        }
        let wait = backoff(attempt).min(deadline.saturating_duration_since(Instant::now()));
        warn!(target = %target, attempt, error = %last, retry_in = ?wait, "ssh connect failed, retrying");
        tokio::time::sleep(wait).await;
    }
}
