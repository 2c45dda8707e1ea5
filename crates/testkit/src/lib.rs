//! Test support shared by the workspace's test suites: the prerequisite check that skips a test
//! on a host that cannot run it but fails it under `CI=true`, and a real OpenSSH `sshd` on
//! loopback with its own host key and client key, killed with all its sessions on drop.

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The OpenSSH server the fixture runs.
pub const SSHD: &str = "/usr/sbin/sshd";

/// True when nothing is `missing`; else says what is missing and returns false, or panics
/// under `CI=true`, where a missing prerequisite is a failure rather than a skip.
pub fn require(missing: &[&str]) -> bool {
    require_under(std::env::var("CI").as_deref() == Ok("true"), missing)
}

/// [`require`] with `ci` standing for `CI=true`, so both outcomes can be tested in one process.
fn require_under(ci: bool, missing: &[&str]) -> bool {
    if missing.is_empty() {
        return true;
    }
    let msg = format!("missing prerequisites: {}", missing.join(", "));
    if ci {
        panic!("{msg} (CI=true makes this a failure)");
    }
    eprintln!("skipping: {msg}");
    false
}

/// Whether this process runs as root (the owner of its own /proc entry).
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// False (after saying why) when sshd or root is missing; a failure under `CI=true`.
pub fn sshd_prerequisites() -> bool {
    let mut missing = Vec::new();
    if !Path::new(SSHD).exists() {
        missing.push("sshd (/usr/sbin/sshd)");
    }
    if !is_root() {
        missing.push("root (sshd must let the test log in as root)");
    }
    require(&missing)
}

/// A new ed25519 key pair without passphrase at `path` (and `path`.pub).
pub fn ssh_keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen runs");
    assert!(st.success(), "ssh-keygen failed for {}", path.display());
}

/// The processes whose parent is `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| {
                    // Fields after the parenthesised command name: state, ppid, ...
                    let rest = stat.rsplit_once(") ")?.1.to_string();
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// A real sshd with its own host key, a client key (file `client_key` in `dir`, text in
/// `client_key`) authorized for root, and a config, log and pid file in a temporary folder.
pub struct TestSshd {
    pub dir: tempfile::TempDir,
    pub addr: String,
    pub port: u16,
    /// The client's private key in OpenSSH text form.
    pub client_key: String,
    child: Option<Child>,
    /// The copy of /etc/shadow bind-mounted over the real one for this sshd only.
    shadow: Option<PathBuf>,
}

impl TestSshd {
    /// Starts sshd on 127.0.0.1, or returns None when the prerequisites are missing.
    pub fn start() -> Option<Self> {
        Self::start_with("127.0.0.1", "")
    }

    /// Starts sshd on `addr` with `extra` lines first in its config (sshd keeps the first
    /// value of a keyword, so they override the defaults here).
    pub fn start_with(addr: &str, extra: &str) -> Option<Self> {
        Self::start_with_root_password(addr, extra, None)
    }

    /// Like [`TestSshd::start_with`]; with `root_password`, sshd runs in its own mount
    /// namespace where `/etc/shadow` is a copy giving root that password: the machine's
    /// accounts stay as they are, and the password exists only for this sshd.
    pub fn start_with_root_password(
        addr: &str,
        extra: &str,
        root_password: Option<&str>,
    ) -> Option<Self> {
        if !sshd_prerequisites() {
            return None;
        }
        let dir = tempfile::tempdir().expect("a temporary folder");
        for key in ["host_key", "client_key"] {
            ssh_keygen(&dir.path().join(key));
        }
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .expect("the client key is authorized");
        let client_key = std::fs::read_to_string(dir.path().join("client_key"))
            .expect("the client key is readable");
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd exists");
        let port = TcpListener::bind((addr, 0))
            .and_then(|l| l.local_addr())
            .unwrap_or_else(|e| panic!("no free port on {addr}: {e}"))
            .port();
        let d = dir.path().display();
        let config = format!(
            "{extra}\nPort {port}\nListenAddress {addr}\nHostKey {d}/host_key\n\
             AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin yes\nStrictModes no\n\
             UsePAM no\nPidFile {d}/sshd.pid\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nSubsystem sftp internal-sftp\nMaxSessions 50\n\
             MaxStartups 50\nLogLevel VERBOSE\nAllowTcpForwarding yes\n"
        );
        std::fs::write(dir.path().join("sshd_config"), config).expect("the config is written");
        let shadow = root_password.map(|password| shadow_with_root_password(dir.path(), password));
        let mut sshd = TestSshd {
            dir,
            addr: addr.to_string(),
            port,
            client_key,
            child: None,
            shadow,
        };
        sshd.launch();
        Some(sshd)
    }

    /// A file in the fixture's folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The client's private key file.
    pub fn key_file(&self) -> PathBuf {
        self.path("client_key")
    }

    /// Starts sshd (again, after [`TestSshd::kill_all`]) on the same address, port and host
    /// key, and waits up to 10s for its banner.
    pub fn launch(&mut self) {
        self.kill_all();
        let config = self.path("sshd_config");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("sshd.log"))
            .expect("the sshd log opens");
        let mut cmd = match &self.shadow {
            None => {
                let mut c = Command::new(SSHD);
                c.args(["-D", "-e", "-f"]).arg(&config);
                c
            }
            Some(shadow) => {
                // unshare and sh both exec, so the child is sshd itself.
                let mut c = Command::new("unshare");
                c.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
                    .arg("mount --bind \"$1\" /etc/shadow && exec \"$0\" -D -e -f \"$2\"")
                    .arg(SSHD)
                    .arg(shadow)
                    .arg(&config);
                c
            }
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("sshd spawns");
        self.child = Some(child);
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

    /// sshd and every process below it: each connection's sshd calls setsid, so the tree is
    /// walked rather than one process group signalled.
    fn tree(&self) -> Vec<u32> {
        let Some(child) = &self.child else {
            return Vec::new();
        };
        let mut pids = vec![child.id()];
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
            signal(pid, "-STOP");
        }
    }

    /// Kills sshd and every process below it (sessions and commands), like a power cut.
    pub fn kill_all(&mut self) {
        let pids = self.tree();
        if let Some(mut child) = self.child.take() {
            for pid in &pids {
                signal(*pid, "-KILL");
            }
            let _ = child.wait();
            // SIGKILL is delivered before the process has finished exiting; callers check
            // right after that nothing is left, so wait for each one to be gone or a zombie.
            let deadline = Instant::now() + Duration::from_secs(10);
            while pids.iter().any(|pid| is_alive(*pid)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Starts sshd again on the same address, port and host key.
    pub fn restart(&mut self) {
        self.launch();
    }

    /// What sshd has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("sshd.log")).unwrap_or_default()
    }

    /// The log once `ready` holds for it (sessions log a moment after the client is gone),
    /// or as it is after 5s.
    pub fn wait_log(&self, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.log();
            if ready(&log) || Instant::now() >= deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// Whether `pid` still runs: it exists and is not a zombie waiting to be reaped.
fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses and may hold any byte.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// Sends `sig` to `pid`; one that has already exited with its parent is fine.
fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// Writes into `dir` a copy of /etc/shadow where root has `password`, and gives its path.
fn shadow_with_root_password(dir: &Path, password: &str) -> PathBuf {
    let hash = Command::new("openssl")
        .args(["passwd", "-6", password])
        .output()
        .expect("openssl runs");
    assert!(hash.status.success(), "openssl passwd failed");
    let hash = String::from_utf8_lossy(&hash.stdout).trim().to_string();
    let shadow: String = std::fs::read_to_string("/etc/shadow")
        .expect("/etc/shadow is readable")
        .lines()
        .map(|l| match l.strip_prefix("root:") {
            Some(rest) => {
                let rest = rest.split_once(':').map_or("", |(_, r)| r);
                format!("root:{hash}:{rest}\n")
            }
            None => format!("{l}\n"),
        })
        .collect();
    let path = dir.join("shadow");
    std::fs::write(&path, shadow).expect("the shadow copy is written");
    path
}

#[cfg(test)]
mod tests {
    use super::require_under;

    #[test]
    fn nothing_missing_runs_the_test() {
        assert!(require_under(true, &[]));
        assert!(require_under(false, &[]));
    }

    #[test]
    fn a_missing_prerequisite_skips_outside_ci() {
        assert!(!require_under(false, &["sshd"]));
    }

    #[test]
    #[should_panic(expected = "missing prerequisites: sshd, root (CI=true makes this a failure)")]
    fn a_missing_prerequisite_fails_under_ci() {
        require_under(true, &["sshd", "root"]);
    }
}
