//! Test helper: a real OpenSSH `sshd` on loopback with its own host key, an in-memory client
//! key, and a config in a temp dir; it is killed (with all its sessions) on drop.

#![allow(dead_code)]

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cce_remote::{Auth, SshConfig};
use russh::keys::ssh_key::LineEnding;
use russh::keys::{Algorithm, PrivateKey};

const SSHD: &str = "/usr/sbin/sshd";

/// Returns false (after printing why) when the test cannot run here; panics under `CI=true`.
pub fn prerequisites() -> bool {
    let mut missing = Vec::new();
    if !Path::new(SSHD).exists() {
        missing.push("sshd (/usr/sbin/sshd)".to_string());
    }
    let euid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    if euid != 0 {
        missing.push("root (sshd must let us log in as root)".to_string());
    }
    if missing.is_empty() {
        return true;
    }
    let msg = format!("missing prerequisites: {}", missing.join(", "));
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg} (CI=true makes this a failure)");
    }
    eprintln!("skipping: {msg}");
    false
}

pub struct TestSshd {
    pub dir: tempfile::TempDir,
    pub addr: String,
    pub port: u16,
    /// The client's private key in OpenSSH text form (only ever held in memory by the client).
    pub client_key: String,
    child: Option<Child>,
    extra: String,
}

fn free_port(addr: &str) -> u16 {
    let l = TcpListener::bind((addr, 0)).expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

impl TestSshd {
    /// Starts sshd on 127.0.0.1, or returns None when the prerequisites are missing.
    pub fn start() -> Option<Self> {
        Self::start_with("127.0.0.1", "")
    }

    /// Starts sshd on `addr` with `extra` lines put first in its config (sshd keeps the first
    /// value of a keyword, so they override the defaults here).
    pub fn start_with(addr: &str, extra: &str) -> Option<Self> {
        if !prerequisites() {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let status = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(dir.path().join("host_key"))
            .status()
            .expect("run ssh-keygen");
        assert!(status.success(), "ssh-keygen failed");
        let key = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).expect("client key");
        let client_key = key
            .to_openssh(LineEnding::LF)
            .expect("encode key")
            .to_string();
        let public = key.public_key().to_openssh().expect("encode public key");
        std::fs::write(dir.path().join("authorized_keys"), format!("{public}\n")).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let mut s = TestSshd {
            dir,
            addr: addr.to_string(),
            port: free_port(addr),
            client_key,
            child: None,
            extra: extra.to_string(),
        };
        s.launch();
        Some(s)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn launch(&mut self) {
        let d = self.dir.path().display();
        let config = format!(
            "{extra}\nPort {port}\nListenAddress {addr}\nHostKey {d}/host_key\n\
             AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin yes\nStrictModes no\n\
             UsePAM no\nPidFile {d}/sshd.pid\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nSubsystem sftp internal-sftp\nMaxSessions 50\n\
             MaxStartups 50\nLogLevel VERBOSE\nAllowTcpForwarding yes\n",
            port = self.port,
            addr = self.addr,
            extra = self.extra,
        );
        let cfg = self.path("sshd_config");
        std::fs::write(&cfg, config).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("sshd.log"))
            .unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("spawn sshd");
        self.child = Some(child);
        // Ready when the banner arrives.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect((self.addr.as_str(), self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 4];
                if s.read_exact(&mut buf).is_ok() && &buf == b"SSH-" {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not start in 10s; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// sshd and every process below it.
    fn tree(&self) -> Vec<i32> {
        let Some(child) = &self.child else {
            return Vec::new();
        };
        let mut pids = vec![child.id() as i32];
        let mut i = 0;
        while i < pids.len() {
            pids.extend(children_of(pids[i]));
            i += 1;
        }
        pids
    }

    /// Stops (SIGSTOP) sshd and all its sessions: the host hangs without closing any socket.
    pub fn freeze(&self) {
        for pid in self.tree() {
            let _ = Command::new("kill")
                .args(["-STOP", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }

    /// Kills sshd and every process below it (sessions and commands), like a power cut.
    pub fn kill_all(&mut self) {
        let pids = self.tree();
        if let Some(mut child) = self.child.take() {
            for pid in &pids {
                // Some have already exited with their parent; that is fine.
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
            let _ = child.wait();
        }
    }

    /// Starts sshd again on the same address, port and host key.
    pub fn restart(&mut self) {
        self.kill_all();
        self.launch();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("sshd.log")).unwrap_or_default()
    }

    /// A client config for root with the in-memory key and short timeouts suited to tests.
    pub fn config(&self) -> SshConfig {
        let mut c = SshConfig::new(
            self.addr.clone(),
            "root",
            Auth::private_key(self.client_key.clone()),
        );
        c.port = self.port;
        c.timeout = Duration::from_secs(30);
        c.attempt_timeout = Duration::from_secs(10);
        c.keepalive_interval = Duration::from_secs(2);
        c
    }
}

fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Ok(child) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // Fields after the parenthesised command name: state, ppid, ...
        if let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) {
            let ppid = rest
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<i32>().ok());
            if ppid == Some(pid) {
                out.push(child);
            }
        }
    }
    out
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// Whether a process whose command line contains `pattern` exists.
pub fn process_running(pattern: &str) -> bool {
    Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Output sinks that collect into shared buffers.
pub fn collector() -> (
    cce_remote::OutputSink,
    std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
) {
    let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let b = buf.clone();
    (
        cce_remote::OutputSink::Callback(Box::new(move |d| b.lock().unwrap().extend_from_slice(d))),
        buf,
    )
}

/// Runs `cmd` on `comm` with its stdout collected (no environment, other options at their
/// defaults); gives the exit status and what it printed.
pub async fn exec_stdout(
    comm: &dyn cce_remote::Communicator,
    cmd: &str,
) -> (cce_remote::ExitStatus, Vec<u8>) {
    let (stdout, out) = collector();
    let options = cce_remote::ExecOptions {
        stdout,
        ..Default::default()
    };
    let status = comm.exec(cmd, &[], options).await.unwrap();
    let printed = std::mem::take(&mut *out.lock().unwrap());
    (status, printed)
}

/// One entry of a tree listing: kind, mode, size, mtime and content or link target.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: char,
    pub mode: u32,
    pub size: u64,
    pub mtime: i64,
    pub content: Vec<u8>,
}

/// Lists a tree (relative names), reading file contents and link targets for comparison.
pub fn list_tree(root: &Path) -> std::collections::BTreeMap<String, Entry> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let (kind, content) = if meta.file_type().is_symlink() {
                (
                    'l',
                    std::fs::read_link(&path)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned()
                        .into_bytes(),
                )
            } else if meta.is_dir() {
                stack.push(path.clone());
                ('d', Vec::new())
            } else {
                ('f', std::fs::read(&path).unwrap())
            };
            out.insert(
                rel,
                Entry {
                    kind,
                    mode: meta.mode() & 0o7777,
                    size: if kind == 'd' { 0 } else { meta.len() },
                    mtime: if kind == 'd' { 0 } else { meta.mtime() },
                    content,
                },
            );
        }
    }
    out
}

/// Asserts two trees are equal entry by entry, naming the first difference.
pub fn assert_same_tree(a: &Path, b: &Path) {
    compare_trees(a, b, true)
}

/// Like [`assert_same_tree`] but ignores symlink mtimes, which SFTP cannot set.
pub fn assert_same_tree_but_link_times(a: &Path, b: &Path) {
    compare_trees(a, b, false)
}

fn compare_trees(a: &Path, b: &Path, link_mtimes: bool) {
    let la = list_tree(a);
    let lb = list_tree(b);
    assert_eq!(
        la.keys().collect::<Vec<_>>().len(),
        lb.keys().collect::<Vec<_>>().len(),
        "entry counts differ"
    );
    for (name, ea) in &la {
        let eb = lb
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing in {}", b.display()));
        assert_eq!(ea.kind, eb.kind, "{name}: kind");
        assert_eq!(ea.mode, eb.mode, "{name}: mode");
        assert_eq!(ea.size, eb.size, "{name}: size");
        if ea.kind != 'l' || link_mtimes {
            assert_eq!(ea.mtime, eb.mtime, "{name}: mtime");
        }
        assert!(ea.content == eb.content, "{name}: content differs");
    }
}

/// Builds a tree of `dirs` x `files_per_dir` small files with varied sizes and modes, plus
/// symlinks (relative, absolute, dangling) and an empty directory.
pub fn make_tree(root: &Path, dirs: usize, files_per_dir: usize) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(root.join("empty")).unwrap();
    for d in 0..dirs {
        let dir = root.join(format!("d{d:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..files_per_dir {
            let n = d * files_per_dir + f;
            let path = dir.join(format!("f{f:03}.txt"));
            let body: Vec<u8> = (0..(n * 37) % 4096)
                .map(|i| ((i * 31 + n) % 251) as u8)
                .collect();
            std::fs::write(&path, body).unwrap();
            let mode = [0o644, 0o600, 0o755, 0o640][n % 4];
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        std::fs::set_permissions(
            &dir,
            std::fs::Permissions::from_mode(if d % 2 == 0 { 0o755 } else { 0o750 }),
        )
        .unwrap();
    }
    std::os::unix::fs::symlink("d000/f000.txt", root.join("link-rel")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", root.join("link-abs")).unwrap();
    std::os::unix::fs::symlink("no/such/target", root.join("link-dangling")).unwrap();
}
