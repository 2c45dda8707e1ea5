//! Helpers of the SSH tests: the client config reaching the workspace's test sshd (see
//! `cce_testkit::TestSshd`), output collectors, and trees of files to copy and compare.

#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use cce_remote::{Auth, SshConfig};
pub use cce_testkit::TestSshd;

/// A client config of a [`TestSshd`].
pub trait ClientConfig {
    /// A client config for root with the in-memory key and short timeouts suited to tests.
    fn config(&self) -> SshConfig;
}

impl ClientConfig for TestSshd {
    fn config(&self) -> SshConfig {
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
