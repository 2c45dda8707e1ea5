//! File transfer: a tar stream produced here and piped into one remote `tar -x` (files, trees,
//! in-memory bytes), `tar -c`/`cat` back for downloads, and SFTP as the alternative.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use russh::ChannelMsg;
use russh::client::Handle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::connect::ClientHandler;
use crate::error::{Error, Result};
use crate::exec::shell_quote;
use crate::progress::{CountingReader, Meter, ProgressObserver};

/// Size of the pieces the tar producer hands to the SSH writer.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight between the producer and the writer: bounds memory to ~2 MiB.
const CHUNKS_IN_FLIGHT: usize = 8;
/// Most stderr kept from a remote tool, for the error message.
const STDERR_KEEP: usize = 16 * 1024;
/// How long to wait for the remote tool's exit status once all data went out.
const FINISH_TIMEOUT: Duration = Duration::from_secs(120);

/// What a transfer moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransferStats {
    /// Bytes that went over the channel (tar framing included for tar transfers).
    pub bytes: u64,
}

/// A tar chunk and the file content bytes read into the stream up to its end.
type Chunk = (Vec<u8>, u64);

/// A `Write` that cuts the tar stream into chunks and blocks when the SSH side is behind.
/// Each chunk carries the content count at the time it was cut, so progress follows what
/// actually went out rather than what was read ahead.
struct ChunkWriter {
    tx: mpsc::Sender<Chunk>,
    buf: Vec<u8>,
    content: Arc<AtomicU64>,
}

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let content = self.content.load(Ordering::Relaxed);
        self.tx
            .blocking_send((chunk, content))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "ssh channel closed"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// A `Read` over chunks arriving from the SSH reader, for the blocking tar unpacker.
struct ChunkReader {
    rx: mpsc::Receiver<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.cur.len() {
            match self.rx.blocking_recv() {
                Some(c) => {
                    self.cur = c;
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// What goes into the tar stream.
pub(crate) enum Source {
    /// The contents of a local directory, entries named `./...`.
    DirContents(PathBuf),
    /// One local file (or symlink), stored under `name`.
    File { path: PathBuf, name: String },
    /// Bytes from memory, stored under `name` with `mode`.
    Bytes {
        data: Vec<u8>,
        name: String,
        mode: u32,
    },
}

/// One entry of a planned tar stream.
enum Entry {
    Dir {
        src: PathBuf,
        name: PathBuf,
    },
    /// A regular file: its content is counted as it is read.
    File {
        src: PathBuf,
        name: PathBuf,
    },
    /// A symlink or special file: header only, written by the tar crate.
    Other {
        src: PathBuf,
        name: PathBuf,
    },
    Bytes {
        data: Vec<u8>,
        name: String,
        mode: u32,
    },
}

/// The entries of a tar stream, in the order `tar::Builder::append_dir_all` writes them, and
/// the total size of their content (the progress total, known before anything is sent).
struct TarPlan {
    entries: Vec<Entry>,
    content_bytes: u64,
}

fn plan_tar(source: Source) -> std::io::Result<TarPlan> {
    let mut entries = Vec::new();
    let mut content_bytes = 0u64;
    match source {
        Source::DirContents(dir) => {
            let mut stack = vec![(dir.clone(), true, false)];
            while let Some((src, is_dir, is_symlink)) = stack.pop() {
                let rel = src.strip_prefix(&dir).map_err(|_| {
                    std::io::Error::other(format!("{} is outside {}", src.display(), dir.display()))
                })?;
                let name = Path::new(".").join(rel);
                if is_dir {
                    for entry in std::fs::read_dir(&src)? {
                        let entry = entry?;
                        let ft = entry.file_type()?;
                        stack.push((entry.path(), ft.is_dir(), ft.is_symlink()));
                    }
                    entries.push(Entry::Dir { src, name });
                } else if is_symlink {
                    entries.push(Entry::Other { src, name });
                } else {
                    let meta = std::fs::metadata(&src)?;
                    if meta.is_file() {
                        content_bytes += meta.len();
                        entries.push(Entry::File { src, name });
                    } else {
                        entries.push(Entry::Other { src, name });
                    }
                }
            }
        }
        Source::File { path, name } => {
            let meta = std::fs::symlink_metadata(&path)?;
            let name = PathBuf::from(name);
            if meta.is_file() {
                content_bytes += meta.len();
                entries.push(Entry::File { src: path, name });
            } else {
                entries.push(Entry::Other { src: path, name });
            }
        }
        Source::Bytes { data, name, mode } => {
            content_bytes += data.len() as u64;
            entries.push(Entry::Bytes { data, name, mode });
        }
    }
    Ok(TarPlan {
        entries,
        content_bytes,
    })
}

fn produce_tar(plan: TarPlan, tx: mpsc::Sender<Chunk>) -> std::io::Result<()> {
    let content = Arc::new(AtomicU64::new(0));
    let writer = ChunkWriter {
        tx,
        buf: Vec::with_capacity(CHUNK),
        content: content.clone(),
    };
    let mut builder = tar::Builder::new(writer);
    builder.follow_symlinks(false);
    // GNU sparse headers are not understood by every remote tar (busybox); send plain data.
    builder.sparse(false);
    builder.mode(tar::HeaderMode::Complete);
    for entry in plan.entries {
        match entry {
            Entry::Dir { src, name } => builder.append_dir(&name, &src)?,
            Entry::Other { src, name } => builder.append_path_with_name(&src, &name)?,
            Entry::File { src, name } => {
                // What `Builder::append_file` does, with the reads counted on the way.
                let file = std::fs::File::open(&src)?;
                let meta = file.metadata()?;
                let mut header = tar::Header::new_gnu();
                header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
                let reader = CountingReader {
                    inner: file,
                    counter: content.clone(),
                };
                builder.append_data(&mut header, &name, reader)?;
            }
            Entry::Bytes { data, name, mode } => {
                let mut header = tar::Header::new_gnu();
                header.set_size(data.len() as u64);
                header.set_mode(mode);
                header.set_mtime(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0),
                );
                header.set_entry_type(tar::EntryType::Regular);
                let reader = CountingReader {
                    inner: data.as_slice(),
                    counter: content.clone(),
                };
                builder.append_data(&mut header, &name, reader)?;
            }
        }
    }
    let mut writer = builder.into_inner()?;
    writer.flush()
}

fn remote_error(target: &str, what: &str, status: Option<u32>, stderr: &[u8]) -> Error {
    let text = String::from_utf8_lossy(stderr).trim().to_string();
    let message = match (status, text.is_empty()) {
        (Some(code), false) => format!("remote exit code {code}: {text}"),
        (Some(code), true) => format!("remote exit code {code}"),
        (None, false) => format!("connection closed: {text}"),
        (None, true) => "the channel closed before the remote side finished".into(),
    };
    Error::Transfer {
        target: target.into(),
        what: what.into(),
        message,
    }
}

/// Splits a remote destination into (directory to extract in, entry name).
pub(crate) fn split_remote_file(
    remote: &str,
    local_name: Option<&str>,
) -> Result<(String, String)> {
    if remote.ends_with('/') {
        let name = local_name.ok_or_else(|| {
            Error::Config(format!(
                "destination {remote} is a directory but the source has no file name"
            ))
        })?;
        return Ok((remote.trim_end_matches('/').to_string(), name.to_string()))
            .map(|(d, n)| (if d.is_empty() { "/".into() } else { d }, n));
    }
    match remote.rsplit_once('/') {
        Some((dir, name)) if !name.is_empty() => {
            let dir = if dir.is_empty() { "/" } else { dir };
            Ok((dir.to_string(), name.to_string()))
        }
        _ => Ok((".".to_string(), remote.to_string())),
    }
}

/// Streams `source` as tar into `tar -x` run in `dest_dir` on the remote side. `progress`
/// hears the file content bytes sent (tar framing left out) against their total.
pub(crate) async fn upload_tar(
    handle: &Handle<ClientHandler>,
    target: &str,
    source: Source,
    dest_dir: &str,
    progress: Option<ProgressObserver>,
) -> Result<TransferStats> {
    let what = format!("upload to {dest_dir}");
    let ssh_err = |e: russh::Error| Error::Ssh {
        target: target.to_string(),
        source: e,
    };
    // Walk the source first: the total is known before a byte goes out, and an unreadable
    // source fails before the remote side is started.
    let plan = tokio::task::spawn_blocking(move || plan_tar(source))
        .await
        .map_err(|e| Error::io(what.clone(), std::io::Error::other(e.to_string())))?
        .map_err(|e| Error::io(format!("reading the local source for {what}"), e))?;
    let mut meter = Meter::start(progress, Some(plan.content_bytes));
    let script = format!(
        "mkdir -p -- {d} && exec tar -x -p --no-same-owner -f - -C {d}",
        d = shell_quote(dest_dir)
    );
    let channel = handle.channel_open_session().await.map_err(ssh_err)?;
    channel
        .exec(true, format!("sh -c {}", shell_quote(&script)))
        .await
        .map_err(ssh_err)?;
    let (mut read_half, write_half) = channel.split();

    let (tx, mut rx) = mpsc::channel::<Chunk>(CHUNKS_IN_FLIGHT);
    let producer = tokio::task::spawn_blocking(move || produce_tar(plan, tx));

    let writer = async move {
        let mut sent = 0u64;
        while let Some((chunk, content)) = rx.recv().await {
            sent += chunk.len() as u64;
            write_half.data_bytes(chunk).await.map_err(ssh_err)?;
            meter.set(content);
        }
        write_half.eof().await.map_err(ssh_err)?;
        Ok::<(u64, Meter), Error>((sent, meter))
    };
    let reader = async move {
        let mut stderr = Vec::new();
        let mut status = None;
        loop {
            match read_half.wait().await {
                Some(ChannelMsg::ExtendedData { data, .. }) | Some(ChannelMsg::Data { data }) => {
                    if stderr.len() < STDERR_KEEP {
                        stderr.extend_from_slice(&data);
                    }
                }
                Some(ChannelMsg::ExitStatus { exit_status }) => status = Some(exit_status),
                Some(ChannelMsg::Failure) => break,
                Some(ChannelMsg::Close) | None => break,
                Some(_) => {}
            }
        }
        (status, stderr)
    };
    let mut writer = Box::pin(writer);
    let mut reader = Box::pin(reader);
    let (sent, status, stderr) = tokio::select! {
        w = &mut writer => {
            match w {
                Ok(sent) => match tokio::time::timeout(FINISH_TIMEOUT, &mut reader).await {
                    Ok((status, stderr)) => (Some(sent), status, stderr),
                    Err(_) => (Some(sent), None, b"remote tar did not finish in time".to_vec()),
                },
                Err(e) => {
                    // Collect what the remote tar said, if it said anything quickly.
                    let (status, stderr) = tokio::time::timeout(Duration::from_secs(5), &mut reader)
                        .await
                        .unwrap_or((None, Vec::new()));
                    if status.is_some() || !stderr.is_empty() {
                        (None, status, stderr)
                    } else {
                        return Err(e);
                    }
                }
            }
        }
        (status, stderr) = &mut reader => (None, status, stderr),
    };
    // Dropping the writer drops the chunk receiver, so a producer still writing stops.
    drop(writer);
    drop(reader);
    let produced = producer.await;
    match (sent, status) {
        (Some((sent, mut meter)), Some(0)) => match produced {
            Ok(Ok(())) => {
                meter.finish();
                Ok(TransferStats { bytes: sent })
            }
            Ok(Err(e)) => Err(Error::io(format!("reading the local source for {what}"), e)),
            Err(e) => Err(Error::io(what, std::io::Error::other(e.to_string()))),
        },
        _ => {
            if let Ok(Err(e)) = produced {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(Error::io(format!("reading the local source for {what}"), e));
                }
            }
            Err(remote_error(target, &what, status, &stderr))
        }
    }
}

/// Downloads a remote file or directory tree to `local` (a file path, or a directory that
/// receives the tree's contents).
pub(crate) async fn download(
    handle: &Handle<ClientHandler>,
    target: &str,
    remote: &str,
    local: &Path,
) -> Result<TransferStats> {
    let what = format!("download of {remote}");
    let ssh_err = |e: russh::Error| Error::Ssh {
        target: target.to_string(),
        source: e,
    };
    // The first byte says what follows: D = a tar stream of a directory, F = raw file bytes.
    let script = "if [ -d \"$1\" ]; then printf D; exec tar -c -f - -C \"$1\" .; \
                  elif [ -e \"$1\" ]; then printf F; exec cat -- \"$1\"; \
                  else echo \"$1: no such file or directory\" >&2; exit 2; fi";
    let mut channel = handle.channel_open_session().await.map_err(ssh_err)?;
    channel
        .exec(
            true,
            format!("sh -c {} sh {}", shell_quote(script), shell_quote(remote)),
        )
        .await
        .map_err(ssh_err)?;

    enum Sink {
        Undecided,
        File(tokio::fs::File),
        Tar(
            mpsc::Sender<Vec<u8>>,
            tokio::task::JoinHandle<std::io::Result<()>>,
        ),
    }
    let mut sink = Sink::Undecided;
    let mut stderr = Vec::new();
    let mut status = None;
    let mut bytes = 0u64;
    loop {
        let msg = channel.wait().await;
        match msg {
            Some(ChannelMsg::Data { data }) => {
                let mut data: &[u8] = &data;
                bytes += data.len() as u64;
                if let Sink::Undecided = sink {
                    let Some((&kind, rest)) = data.split_first() else {
                        continue;
                    };
                    data = rest;
                    sink = if kind == b'D' {
                        tokio::fs::create_dir_all(local)
                            .await
                            .map_err(|e| Error::io(format!("creating {}", local.display()), e))?;
                        let (tx, rx) = mpsc::channel::<Vec<u8>>(CHUNKS_IN_FLIGHT);
                        let dest = local.to_path_buf();
                        let unpacker = tokio::task::spawn_blocking(move || {
                            let reader = ChunkReader {
                                rx,
                                cur: Vec::new(),
                                pos: 0,
                            };
                            let mut archive = tar::Archive::new(reader);
                            archive.set_preserve_permissions(true);
                            archive.set_preserve_mtime(true);
                            archive.set_overwrite(true);
                            archive.unpack(&dest)
                        });
                        Sink::Tar(tx, unpacker)
                    } else {
                        if let Some(parent) = local.parent().filter(|p| !p.as_os_str().is_empty()) {
                            tokio::fs::create_dir_all(parent).await.map_err(|e| {
                                Error::io(format!("creating {}", parent.display()), e)
                            })?;
                        }
                        let file = tokio::fs::File::create(local)
                            .await
                            .map_err(|e| Error::io(format!("creating {}", local.display()), e))?;
                        Sink::File(file)
                    };
                }
                match &mut sink {
                    Sink::File(f) => f
                        .write_all(data)
                        .await
                        .map_err(|e| Error::io(format!("writing {}", local.display()), e))?,
                    Sink::Tar(tx, _) => {
                        if tx.send(data.to_vec()).await.is_err() {
                            break;
                        }
                    }
                    Sink::Undecided => {}
                }
            }
            Some(ChannelMsg::ExtendedData { data, .. }) => {
                if stderr.len() < STDERR_KEEP {
                    stderr.extend_from_slice(&data);
                }
            }
            Some(ChannelMsg::ExitStatus { exit_status }) => status = Some(exit_status),
            Some(ChannelMsg::Close) | None | Some(ChannelMsg::Failure) => break,
            Some(_) => {}
        }
    }
    match sink {
        Sink::File(mut f) => f
            .flush()
            .await
            .map_err(|e| Error::io(format!("writing {}", local.display()), e))?,
        Sink::Tar(tx, unpacker) => {
            drop(tx);
            match unpacker.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    return Err(Error::io(format!("unpacking into {}", local.display()), e));
                }
                Err(e) => return Err(Error::io(what, std::io::Error::other(e.to_string()))),
            }
        }
        Sink::Undecided => {}
    }
    if status == Some(0) {
        Ok(TransferStats {
            bytes: bytes.saturating_sub(1),
        })
    } else {
        Err(remote_error(target, &what, status, &stderr))
    }
}

fn sftp_err(target: &str, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Transfer {
        target: target.into(),
        what: what.into(),
        message: format!("sftp: {e}"),
    }
}

async fn sftp_session(
    handle: &Handle<ClientHandler>,
    target: &str,
) -> Result<russh_sftp::client::SftpSession> {
    let ssh_err = |e: russh::Error| Error::Ssh {
        target: target.to_string(),
        source: e,
    };
    let channel = handle.channel_open_session().await.map_err(ssh_err)?;
    channel
        .request_subsystem(true, "sftp")
        .await
        .map_err(ssh_err)?;
    russh_sftp::client::SftpSession::new(channel.into_stream())
        .await
        .map_err(|e| sftp_err(target, "sftp start", e))
}

async fn sftp_put_file(
    sftp: &russh_sftp::client::SftpSession,
    target: &str,
    local: &Path,
    remote: &str,
    meter: &mut Meter,
) -> Result<u64> {
    let what = format!("sftp upload to {remote}");
    let meta = tokio::fs::metadata(local)
        .await
        .map_err(|e| Error::io(format!("reading {}", local.display()), e))?;
    let mut src = tokio::fs::File::open(local)
        .await
        .map_err(|e| Error::io(format!("reading {}", local.display()), e))?;
    let mut dst = sftp
        .create(remote)
        .await
        .map_err(|e| sftp_err(target, &what, e))?;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = src
            .read(&mut buf)
            .await
            .map_err(|e| Error::io(format!("reading {}", local.display()), e))?;
        if n == 0 {
            break;
        }
        dst.write_all(&buf[..n])
            .await
            .map_err(|e| sftp_err(target, &what, e))?;
        total += n as u64;
        meter.add(n as u64);
    }
    dst.shutdown()
        .await
        .map_err(|e| sftp_err(target, &what, e))?;
    drop(dst);
    set_sftp_mode(sftp, remote, &meta)
        .await
        .map_err(|e| sftp_err(target, &what, e))?;
    Ok(total)
}

async fn set_sftp_mode(
    sftp: &russh_sftp::client::SftpSession,
    remote: &str,
    meta: &std::fs::Metadata,
) -> std::result::Result<(), russh_sftp::client::error::Error> {
    use std::os::unix::fs::MetadataExt;
    let mut attrs = russh_sftp::protocol::FileAttributes::empty();
    attrs.permissions = Some(meta.mode() & 0o7777);
    attrs.atime = Some(meta.atime() as u32);
    attrs.mtime = Some(meta.mtime() as u32);
    sftp.set_metadata(remote, attrs).await
}

/// What an SFTP upload of `local` will send: the size of a file (followed if a symlink), or
/// of the files under a directory (symlinks there are recreated, not sent).
fn sftp_content_size(local: &Path) -> std::io::Result<u64> {
    if !std::fs::symlink_metadata(local)?.is_dir() {
        return Ok(std::fs::metadata(local)?.len());
    }
    let mut total = 0u64;
    let mut stack = vec![local.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let ft = entry.file_type()?;
            if ft.is_dir() {
                stack.push(entry.path());
            } else if !ft.is_symlink() {
                total += entry.metadata()?.len();
            }
        }
    }
    Ok(total)
}

/// Uploads a file, or a directory's contents into `remote`, over SFTP.
pub(crate) async fn upload_sftp(
    handle: &Handle<ClientHandler>,
    target: &str,
    local: &Path,
    remote: &str,
    progress: Option<ProgressObserver>,
) -> Result<TransferStats> {
    let meta = tokio::fs::symlink_metadata(local)
        .await
        .map_err(|e| Error::io(format!("reading {}", local.display()), e))?;
    let walked = local.to_path_buf();
    let content_bytes = tokio::task::spawn_blocking(move || sftp_content_size(&walked))
        .await
        .map_err(|e| Error::io("sftp upload", std::io::Error::other(e.to_string())))?
        .map_err(|e| Error::io(format!("reading {}", local.display()), e))?;
    let mut meter = Meter::start(progress, Some(content_bytes));
    let sftp = sftp_session(handle, target).await?;
    let mut total = 0u64;
    if !meta.is_dir() {
        let local_name = local.file_name().and_then(|n| n.to_str());
        let (dir, name) = split_remote_file(remote, local_name)?;
        let path = format!("{}/{}", dir.trim_end_matches('/'), name);
        total += sftp_put_file(&sftp, target, local, &path, &mut meter).await?;
    } else {
        let root = remote.trim_end_matches('/').to_string();
        let root = if root.is_empty() {
            "/".to_string()
        } else {
            root
        };
        let mut stack = vec![(local.to_path_buf(), root)];
        while let Some((ldir, rdir)) = stack.pop() {
            let what = format!("sftp upload to {rdir}");
            if !sftp
                .try_exists(&rdir)
                .await
                .map_err(|e| sftp_err(target, &what, e))?
            {
                sftp.create_dir(&rdir)
                    .await
                    .map_err(|e| sftp_err(target, &what, e))?;
            }
            let mut entries = tokio::fs::read_dir(&ldir)
                .await
                .map_err(|e| Error::io(format!("listing {}", ldir.display()), e))?;
            while let Some(entry) = entries
                .next_entry()
                .await
                .map_err(|e| Error::io(format!("listing {}", ldir.display()), e))?
            {
                let name = entry.file_name().to_string_lossy().into_owned();
                let rpath = format!("{}/{}", rdir.trim_end_matches('/'), name);
                let ft = entry
                    .file_type()
                    .await
                    .map_err(|e| Error::io(format!("reading {}", entry.path().display()), e))?;
                if ft.is_dir() {
                    stack.push((entry.path(), rpath));
                } else if ft.is_symlink() {
                    let dest = tokio::fs::read_link(entry.path())
                        .await
                        .map_err(|e| Error::io(format!("reading {}", entry.path().display()), e))?;
                    // OpenSSH's server takes the two symlink arguments in swapped order.
                    sftp.symlink(dest.to_string_lossy().into_owned(), rpath.clone())
                        .await
                        .map_err(|e| sftp_err(target, &format!("sftp symlink {rpath}"), e))?;
                } else {
                    total +=
                        sftp_put_file(&sftp, target, &entry.path(), &rpath, &mut meter).await?;
                }
            }
            let dmeta = tokio::fs::metadata(&ldir)
                .await
                .map_err(|e| Error::io(format!("reading {}", ldir.display()), e))?;
            set_sftp_mode(&sftp, &rdir, &dmeta)
                .await
                .map_err(|e| sftp_err(target, &what, e))?;
        }
    }
    let _ = sftp.close().await;
    meter.finish();
    Ok(TransferStats { bytes: total })
}

/// Downloads one remote file over SFTP.
pub(crate) async fn download_sftp(
    handle: &Handle<ClientHandler>,
    target: &str,
    remote: &str,
    local: &Path,
) -> Result<TransferStats> {
    let what = format!("sftp download of {remote}");
    let sftp = sftp_session(handle, target).await?;
    let meta = sftp
        .metadata(remote)
        .await
        .map_err(|e| sftp_err(target, &what, e))?;
    if meta.is_dir() {
        return Err(Error::Transfer {
            target: target.into(),
            what,
            message:
                "it is a directory; sftp downloads take single files, use the tar method for trees"
                    .into(),
        });
    }
    let mut src = sftp
        .open(remote)
        .await
        .map_err(|e| sftp_err(target, &what, e))?;
    let mut dst = tokio::fs::File::create(local)
        .await
        .map_err(|e| Error::io(format!("creating {}", local.display()), e))?;
    let n = tokio::io::copy(&mut src, &mut dst)
        .await
        .map_err(|e| sftp_err(target, &what, e))?;
    dst.flush()
        .await
        .map_err(|e| Error::io(format!("writing {}", local.display()), e))?;
    let _ = sftp.close().await;
    Ok(TransferStats { bytes: n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_file_destinations() {
        assert_eq!(
            split_remote_file("/etc/x.conf", Some("a")).unwrap(),
            ("/etc".into(), "x.conf".into())
        );
        assert_eq!(
            split_remote_file("/tmp/", Some("a.sh")).unwrap(),
            ("/tmp".into(), "a.sh".into())
        );
        assert_eq!(
            split_remote_file("/x", None).unwrap(),
            ("/".into(), "x".into())
        );
        assert_eq!(
            split_remote_file("rel", None).unwrap(),
            (".".into(), "rel".into())
        );
        assert!(split_remote_file("/tmp/", None).is_err());
    }
}
