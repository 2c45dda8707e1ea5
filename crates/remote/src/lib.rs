//! The communicator room: SSH connections with retries and keepalives, command execution with
//! streamed output and timeouts, tar-stream and SFTP uploads, downloads. It knows nothing of clouds.

mod config;
mod connect;
mod error;
mod exec;
mod progress;
mod ssh;
mod transfer;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

pub use config::{Auth, Bastion, SshConfig, TransferMethod};
pub use error::{Error, Result};
pub use exec::{ChunkCallback, ExecOptions, ExitStatus, OutputSink, shell_quote};
pub use progress::ProgressObserver;
pub use ssh::SshCommunicator;
pub use transfer::TransferStats;

/// A boxed future, so that [`Communicator`] can be used as `dyn Communicator`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the build engine needs from a connection to the machine being provisioned.
pub trait Communicator: Send + Sync {
    /// Runs `command` through `sh` with `env` exported. Output streams to the sinks of
    /// `options` as it arrives; a timeout kills the whole remote process group.
    fn exec<'a>(
        &'a self,
        command: &'a str,
        env: &'a [(String, String)],
        options: ExecOptions,
    ) -> BoxFuture<'a, Result<ExitStatus>>;

    /// Uploads a local file to `remote` (into it when it ends with `/`), or a local
    /// directory's contents into the remote directory `remote`. Modes, mtimes and symlinks
    /// are kept.
    fn upload<'a>(
        &'a self,
        local: &'a Path,
        remote: &'a str,
    ) -> BoxFuture<'a, Result<TransferStats>>;

    /// Writes bytes from memory to the remote file `remote` with `mode` (e.g. `0o644`).
    fn upload_bytes<'a>(
        &'a self,
        data: &'a [u8],
        remote: &'a str,
        mode: u32,
    ) -> BoxFuture<'a, Result<TransferStats>>;

    /// [`upload`](Self::upload), telling `progress` how many content bytes went out against
    /// the total (at most ten times a second, plus once at the end). A communicator that
    /// cannot measure ignores `progress`.
    fn upload_with_progress<'a>(
        &'a self,
        local: &'a Path,
        remote: &'a str,
        progress: Option<ProgressObserver>,
    ) -> BoxFuture<'a, Result<TransferStats>> {
        let _ = progress;
        self.upload(local, remote)
    }

    /// [`upload_bytes`](Self::upload_bytes) with progress, as for
    /// [`upload_with_progress`](Self::upload_with_progress).
    fn upload_bytes_with_progress<'a>(
        &'a self,
        data: &'a [u8],
        remote: &'a str,
        mode: u32,
        progress: Option<ProgressObserver>,
    ) -> BoxFuture<'a, Result<TransferStats>> {
        let _ = progress;
        self.upload_bytes(data, remote, mode)
    }

    /// Downloads a remote file to `local`, or a remote directory's contents into `local`.
    fn download<'a>(
        &'a self,
        remote: &'a str,
        local: &'a Path,
    ) -> BoxFuture<'a, Result<TransferStats>>;

    /// Drops the session and connects again, waiting up to `timeout` (after a reboot).
    fn reconnect<'a>(&'a self, timeout: Duration) -> BoxFuture<'a, Result<()>>;

    /// Closes the session.
    fn disconnect<'a>(&'a self) -> BoxFuture<'a, ()>;

    /// How files travel; Packer's scp and sftp place a directory upload differently.
    fn transfer_method(&self) -> TransferMethod {
        TransferMethod::Tar
    }
}
