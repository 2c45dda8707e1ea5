//! The SSH implementation of [`Communicator`](crate::Communicator) on russh.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::RwLock;
use tracing::{debug, info, warn};

use crate::config::{SshConfig, TransferMethod};
use crate::connect::{self, Connection};
use crate::error::{Error, Result};
use crate::exec::{self, ChannelEnd, ExecOptions, ExitStatus};
use crate::progress::ProgressObserver;
use crate::transfer::{self, Source, TransferStats};
use crate::{BoxFuture, Communicator};

/// How long the kill of a timed-out command may take before we give up on it.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// A session to one host that survives reboots through [`SshCommunicator::reconnect`].
pub struct SshCommunicator {
    config: SshConfig,
    conn: RwLock<Option<Arc<Connection>>>,
}

impl SshCommunicator {
    /// Connects within `config.timeout`, retrying as configured.
    pub async fn connect(config: SshConfig) -> Result<Self> {
        let conn = connect::connect(&config, config.timeout).await?;
        Ok(SshCommunicator {
            config,
            conn: RwLock::new(Some(Arc::new(conn))),
        })
    }

    pub fn config(&self) -> &SshConfig {
        &self.config
    }

    /// The SHA256 fingerprint of the host key seen on the current session.
    pub async fn host_key_fingerprint(&self) -> Option<String> {
        self.conn.read().await.as_ref().map(|c| c.host_key.clone())
    }

    /// Whether the current session is still up.
    pub async fn is_connected(&self) -> bool {
        self.conn
            .read()
            .await
            .as_ref()
            .is_some_and(|c| !c.handle.is_closed())
    }

    async fn current(&self) -> Result<Arc<Connection>> {
        self.conn
            .read()
            .await
            .clone()
            .ok_or_else(|| Error::NotConnected(self.config.target()))
    }

    fn ssh_err(&self, e: russh::Error) -> Error {
        Error::Ssh {
            target: self.config.target(),
            source: e,
        }
    }

    /// Runs `command` with `env` exported, streaming output to the sinks in `options`.
    pub async fn run(
        &self,
        command: &str,
        env: &[(String, String)],
        options: ExecOptions,
    ) -> Result<ExitStatus> {
        let ExecOptions {
            timeout,
            mut stdout,
            mut stderr,
            expect_disconnect,
        } = options;
        let conn = self.current().await?;
        let target = self.config.target();
        let run_id = exec::new_run_id();
        let wrapped = exec::wrap_command(command, env, &run_id)?;
        let lost = || {
            if expect_disconnect {
                Ok(ExitStatus::Disconnected)
            } else {
                Err(Error::Disconnected {
                    target: target.clone(),
                    command: command.to_string(),
                })
            }
        };
        let channel = match conn.handle.channel_open_session().await {
            Ok(c) => c,
            Err(e) if conn.handle.is_closed() => {
                debug!("channel open failed on a closed session: {e}");
                return lost();
            }
            Err(e) => return Err(self.ssh_err(e)),
        };
        if self.config.pty {
            channel
                .request_pty(true, "xterm", 200, 50, 0, 0, &[])
                .await
                .map_err(|e| self.ssh_err(e))?;
        }
        channel
            .exec(true, wrapped)
            .await
            .map_err(|e| self.ssh_err(e))?;
        let (mut read_half, write_half) = channel.split();
        let pump = exec::pump(&mut read_half, &mut stdout, &mut stderr);
        let end = match timeout {
            None => pump.await,
            Some(limit) => match tokio::time::timeout(limit, pump).await {
                Ok(end) => end,
                Err(_) => {
                    let kill = self.kill_group(&conn, &run_id).await;
                    let _ = write_half.close().await;
                    return Err(Error::CommandTimeout {
                        target,
                        command: command.to_string(),
                        timeout: limit,
                        kill,
                    });
                }
            },
        };
        match end {
            ChannelEnd::Exited(status) => Ok(status),
            ChannelEnd::Refused => Err(Error::ExecRefused {
                target,
                command: command.to_string(),
            }),
            ChannelEnd::Closed | ChannelEnd::Lost => {
                // A clean close with no status while the session lives is a server-side abort.
                if matches!(end, ChannelEnd::Closed) && !conn.handle.is_closed() {
                    warn!(target = %target, "channel closed without an exit status");
                }
                lost()
            }
        }
    }

    /// Kills the remote process group of run `run_id` over a new channel.
    async fn kill_group(&self, conn: &Connection, run_id: &str) -> String {
        let attempt = async {
            let mut channel = conn.handle.channel_open_session().await?;
            channel.exec(true, exec::kill_command(run_id)).await?;
            let mut status = None;
            while let Some(msg) = channel.wait().await {
                if let russh::ChannelMsg::ExitStatus { exit_status } = msg {
                    status = Some(exit_status);
                }
            }
            Ok::<_, russh::Error>(status)
        };
        match tokio::time::timeout(KILL_TIMEOUT, attempt).await {
            Ok(Ok(Some(0))) => "killed".into(),
            Ok(Ok(other)) => format!("maybe not killed (kill script ended with {other:?})"),
            Ok(Err(e)) => format!("not killed ({e})"),
            Err(_) => format!("not killed (no answer within {KILL_TIMEOUT:?})"),
        }
    }

    /// Drops the current session and connects again, waiting up to `timeout` (a reboot).
    pub async fn reconnect_within(&self, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        let old_key = {
            let mut guard = self.conn.write().await;
            let old = guard.take();
            if let Some(old) = &old {
                say_goodbye(old, "reconnecting").await;
            }
            old.map(|c| c.host_key.clone())
        };
        let conn = connect::connect(&self.config, timeout).await?;
        if let Some(old) = old_key
            && old != conn.host_key
        {
            warn!(target = %self.config.target(), old = %old, new = %conn.host_key, "host key changed across reconnect");
        }
        info!(target = %self.config.target(), after = ?started.elapsed(), "reconnected");
        *self.conn.write().await = Some(Arc::new(conn));
        Ok(())
    }

    /// Uploads with the configured method (tar stream or SFTP).
    pub async fn upload_path(&self, local: &Path, remote: &str) -> Result<TransferStats> {
        self.upload_path_with_progress(local, remote, None).await
    }

    /// [`upload_path`](Self::upload_path), reporting the content bytes sent to `progress`.
    pub async fn upload_path_with_progress(
        &self,
        local: &Path,
        remote: &str,
        progress: Option<ProgressObserver>,
    ) -> Result<TransferStats> {
        match self.config.transfer {
            TransferMethod::Tar => self.upload_tar_with_progress(local, remote, progress).await,
            TransferMethod::Sftp => {
                self.upload_sftp_with_progress(local, remote, progress)
                    .await
            }
        }
    }

    /// Uploads a file or a directory's contents as one tar stream. A file goes to `remote`
    /// (or into it when it ends with `/`); a directory's contents go into `remote`.
    pub async fn upload_tar(&self, local: &Path, remote: &str) -> Result<TransferStats> {
        self.upload_tar_with_progress(local, remote, None).await
    }

    /// [`upload_tar`](Self::upload_tar), reporting the content bytes sent (tar framing left
    /// out) to `progress`.
    pub async fn upload_tar_with_progress(
        &self,
        local: &Path,
        remote: &str,
        progress: Option<ProgressObserver>,
    ) -> Result<TransferStats> {
        let conn = self.current().await?;
        let meta = tokio::fs::symlink_metadata(local)
            .await
            .map_err(|e| Error::io(format!("reading {}", local.display()), e))?;
        let (source, dir) = if meta.is_dir() {
            let dir = remote.trim_end_matches('/');
            let dir = if dir.is_empty() { "/" } else { dir };
            (Source::DirContents(local.to_path_buf()), dir.to_string())
        } else {
            let local_name = local.file_name().and_then(|n| n.to_str());
            let (dir, name) = transfer::split_remote_file(remote, local_name)?;
            (
                Source::File {
                    path: local.to_path_buf(),
                    name,
                },
                dir,
            )
        };
        transfer::upload_tar(&conn.handle, &self.config.target(), source, &dir, progress).await
    }

    /// Uploads over SFTP (a file, or a directory's contents into `remote`).
    pub async fn upload_sftp(&self, local: &Path, remote: &str) -> Result<TransferStats> {
        self.upload_sftp_with_progress(local, remote, None).await
    }

    /// [`upload_sftp`](Self::upload_sftp), reporting the bytes sent to `progress`.
    pub async fn upload_sftp_with_progress(
        &self,
        local: &Path,
        remote: &str,
        progress: Option<ProgressObserver>,
    ) -> Result<TransferStats> {
        let conn = self.current().await?;
        transfer::upload_sftp(&conn.handle, &self.config.target(), local, remote, progress).await
    }

    /// Writes `data` to the remote file `remote` with `mode`.
    pub async fn upload_data(&self, data: &[u8], remote: &str, mode: u32) -> Result<TransferStats> {
        self.upload_data_with_progress(data, remote, mode, None)
            .await
    }

    /// [`upload_data`](Self::upload_data), reporting the bytes sent to `progress`.
    pub async fn upload_data_with_progress(
        &self,
        data: &[u8],
        remote: &str,
        mode: u32,
        progress: Option<ProgressObserver>,
    ) -> Result<TransferStats> {
        let conn = self.current().await?;
        let (dir, name) = transfer::split_remote_file(remote, None)?;
        let source = Source::Bytes {
            data: data.to_vec(),
            name,
            mode,
        };
        transfer::upload_tar(&conn.handle, &self.config.target(), source, &dir, progress).await
    }

    /// Downloads a remote file, or a directory's contents into `local`.
    pub async fn download_path(&self, remote: &str, local: &Path) -> Result<TransferStats> {
        let conn = self.current().await?;
        match self.config.transfer {
            TransferMethod::Tar => {
                transfer::download(&conn.handle, &self.config.target(), remote, local).await
            }
            TransferMethod::Sftp => {
                transfer::download_sftp(&conn.handle, &self.config.target(), remote, local).await
            }
        }
    }

    /// Ends the session politely.
    pub async fn close(&self) {
        if let Some(conn) = self.conn.write().await.take() {
            say_goodbye(&conn, "done").await;
        }
    }
}

/// Sends a polite disconnect, but never waits long on a link that may be half dead.
async fn say_goodbye(conn: &Connection, why: &str) {
    let bye = conn
        .handle
        .disconnect(russh::Disconnect::ByApplication, why, "en");
    let _ = tokio::time::timeout(Duration::from_secs(2), bye).await;
}

impl Communicator for SshCommunicator {
    fn exec<'a>(
        &'a self,
        command: &'a str,
        env: &'a [(String, String)],
        options: ExecOptions,
    ) -> BoxFuture<'a, Result<ExitStatus>> {
        Box::pin(self.run(command, env, options))
    }

    fn upload<'a>(
        &'a self,
        local: &'a Path,
        remote: &'a str,
    ) -> BoxFuture<'a, Result<TransferStats>> {
        Box::pin(self.upload_path(local, remote))
    }

    fn upload_bytes<'a>(
        &'a self,
        data: &'a [u8],
        remote: &'a str,
        mode: u32,
    ) -> BoxFuture<'a, Result<TransferStats>> {
        Box::pin(self.upload_data(data, remote, mode))
    }

    fn upload_with_progress<'a>(
        &'a self,
        local: &'a Path,
        remote: &'a str,
        progress: Option<ProgressObserver>,
    ) -> BoxFuture<'a, Result<TransferStats>> {
        Box::pin(self.upload_path_with_progress(local, remote, progress))
    }

    fn upload_bytes_with_progress<'a>(
        &'a self,
        data: &'a [u8],
        remote: &'a str,
        mode: u32,
        progress: Option<ProgressObserver>,
    ) -> BoxFuture<'a, Result<TransferStats>> {
        Box::pin(self.upload_data_with_progress(data, remote, mode, progress))
    }

    fn download<'a>(
        &'a self,
        remote: &'a str,
        local: &'a Path,
    ) -> BoxFuture<'a, Result<TransferStats>> {
        Box::pin(self.download_path(remote, local))
    }

    fn reconnect<'a>(&'a self, timeout: Duration) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.reconnect_within(timeout))
    }

    fn disconnect<'a>(&'a self) -> BoxFuture<'a, ()> {
        Box::pin(self.close())
    }

    fn transfer_method(&self) -> TransferMethod {
        self.config.transfer
    }
}
