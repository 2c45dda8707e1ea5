//! Helpers shared by the sandbox tests: prerequisites (failing under `CI=true`), the cached
//! base rootfs, a key pair, and the real OpenSSH client pointed at a forwarder.
#![allow(dead_code)]

pub mod origin;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cce_sandbox::{Forwarder, PackageProxy, Sandbox, SandboxSpec};

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

/// A sandbox named `id` (also its hostname) on the image `base`, logged into with `public`.
pub fn spec(id: &str, dir: PathBuf, base: PathBuf, public: &str) -> SandboxSpec {
    SandboxSpec {
        id: id.into(),
        hostname: id.into(),
        dir,
        layers: vec![base],
        authorized_keys: Some(public.into()),
        user_data: None,
        admin_pass: None,
        data_disks: Vec::new(),
        boot_timeout: Duration::from_secs(60),
    }
}

/// What a test booting servers starts from.
pub struct Setup {
    /// The cached base rootfs.
    pub base: PathBuf,
    /// A scratch folder (0711: the sandbox's root is not root on the host and must be able to
    /// walk down to its folder).
    pub tmp: tempfile::TempDir,
    /// A key pair in `tmp`: the private key's path and the public key.
    pub key: PathBuf,
    pub public: String,
}

pub async fn setup() -> Setup {
    use std::os::unix::fs::PermissionsExt as _;
    let base = tokio::task::spawn_blocking(rootfs).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let (key, public) = keypair(tmp.path());
    Setup { base, tmp, key, public }
}

pub fn keypair(dir: &Path) -> (PathBuf, String) {
    let key = dir.join("id_ed25519");
    let st = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).status().unwrap();
    assert!(st.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (key, public)
}

/// Starts the sandbox `spec` describes (behind `proxy`, if given) and forwards a host port to
/// its sshd; gives the sandbox, the forwarder (which must outlive the SSH use) and an `Ssh` to
/// it with the sandbox's console log.
pub async fn boot(spec: SandboxSpec, key: &Path, proxy: Option<PackageProxy>) -> (Sandbox, Forwarder, Ssh) {
    let console = spec.dir.join("console.log");
    let sb = tokio::task::spawn_blocking(move || {
        let mut sb = Sandbox::new(spec);
        if proxy.is_some() {
            sb.set_package_proxy(proxy);
        }
        sb.start().expect("boot");
        sb
    })
    .await
    .unwrap();
    let fwd = Forwarder::start("127.0.0.1:0".parse().unwrap(), sb.netns(), 22).await.unwrap();
    let ssh = Ssh { key: key.to_path_buf(), addr: fwd.local_addr(), console };
    (sb, fwd, ssh)
}

/// Waits (30 s) for the second boot of `sb` after a reboot from inside, then for its sshd.
pub fn wait_second_boot(sb: &Sandbox, ssh: &Ssh) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while sb.boots() < 2 {
        assert!(Instant::now() < deadline, "no second boot after reboot");
        std::thread::sleep(Duration::from_millis(100));
    }
    ssh.wait_up(Duration::from_secs(60));
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

