//! Helpers shared by the sandbox tests: prerequisites (failing under `CI=true`), the cached
//! base rootfs, a key pair, and the real OpenSSH client pointed at a forwarder.
#![allow(dead_code)]

pub mod origin;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub fn prerequisites() -> bool {
    match cce_sandbox::host_supports_sandboxes() {
        Ok(()) => true,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("CI=true and sandboxes cannot run: {e}"),
        Err(e) => {
            eprintln!("skipping: {e}");
            false
        }
    }
}

pub fn rootfs() -> PathBuf {
    let cache = std::env::var_os("CCE_ROOTFS_CACHE").map_or_else(|| PathBuf::from("/var/cache/cce-image-builder"), PathBuf::from);
    cce_sandbox::ensure_debian_rootfs(&cache, &cce_sandbox::debian_mirror()).expect("base rootfs")
}

pub fn keypair(dir: &Path) -> (PathBuf, String) {
    let key = dir.join("id_ed25519");
    let st = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).status().unwrap();
    assert!(st.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (key, public)
}

pub struct Ssh {
    pub key: PathBuf,
    pub addr: std::net::SocketAddr,
    pub console: PathBuf,
}

impl Ssh {
    pub fn run(&self, cmd: &str) -> (i32, String) {
        let out = Command::new("ssh")
            .arg("-i")
            .arg(&self.key)
            .args(["-p", &self.addr.port().to_string()])
            .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"])
            .args(["-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR"])
            .arg(format!("root@{}", self.addr.ip()))
            .arg(cmd)
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).trim().to_string() + &String::from_utf8_lossy(&out.stderr))
    }

    pub fn ok(&self, cmd: &str) -> String {
        let (code, out) = self.run(cmd);
        assert_eq!(code, 0, "`{cmd}` failed: {out}");
        out
    }

    pub fn wait_up(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.run("true").0 == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "ssh did not come back within {timeout:?}; console:\n{}",
                std::fs::read_to_string(&self.console).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

