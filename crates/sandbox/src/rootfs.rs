//! The base image of local-cloud servers: a minimal Debian made with `debootstrap` from the
//! machine's configured mirror, with `openssh-server`, `systemd` and the tools a provisioning
//! script expects, cached in a folder and built once (under a lock, atomically renamed into place).

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::SandboxError;

/// Packages added to debootstrap's minbase: sshd, init, the tools provisioning scripts written
/// for real nodes call (`sysctl`, `ip`, `modprobe`, `sudo`, `curl`), and the name service that
/// resolves the server's own hostname, as a cloud server's `/etc/hosts` does.
const PACKAGES: &str = "openssh-server,procps,iproute2,kmod,systemd,systemd-sysv,dbus,ca-certificates,sudo,curl,libnss-myhostname";
/// The cache folder's name: a new one whenever `PACKAGES` or `customize` changes, so that a cache
/// made before is not taken for this one. An older one stays for the servers still running on it.
const ROOTFS_DIR: &str = "debian-12-rootfs-2";
const SUITE: &str = "bookworm";
const READY_MARKER: &str = ".cce-rootfs-ready";
/// Set once every file's owner is shifted into the sandboxes' user-namespace range.
const SHIFTED_MARKER: &str = ".cce-rootfs-shifted";
/// Host uid/gid that is root inside a sandbox's user namespace; the range is `ID_SHIFT..ID_SHIFT+ID_COUNT`.
pub const ID_SHIFT: u32 = 100_000;
/// How many ids a sandbox's user namespace maps.
pub const ID_COUNT: u32 = 65_536;

/// The Debian mirror apt is configured with (`/etc/apt/sources.list.d/debian.sources` or
/// `/etc/apt/sources.list`), else deb.debian.org.
pub fn debian_mirror() -> String {
    let from_deb822 = fs::read_to_string("/etc/apt/sources.list.d/debian.sources").ok().and_then(|s| {
        s.lines()
            .filter_map(|l| l.strip_prefix("URIs:"))
            .flat_map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .find(|u| !u.contains("security"))
    });
    let from_list = || {
        fs::read_to_string("/etc/apt/sources.list").ok().and_then(|s| {
            s.lines()
                .filter(|l| l.starts_with("deb ") && !l.contains("security"))
                .find_map(|l| l.split_whitespace().find(|w| w.starts_with("http")).map(str::to_string))
        })
    };
    from_deb822.or_else(from_list).unwrap_or_else(|| "http://deb.debian.org/debian".to_string())
}

/// Returns the cached Debian root filesystem under `cache`, building it first if needed.
pub fn ensure_debian_rootfs(cache: &Path, mirror: &str) -> Result<PathBuf, SandboxError> {
    let root = cache.join(ROOTFS_DIR);
    if root.join(READY_MARKER).exists() && root.join(SHIFTED_MARKER).exists() {
        return Ok(root);
    }
    fs::create_dir_all(cache).map_err(|e| SandboxError::Rootfs(format!("cannot create {}: {e}", cache.display())))?;
    let lock = fs::File::create(cache.join(".rootfs.lock"))
        .map_err(|e| SandboxError::Rootfs(format!("cannot create lock in {}: {e}", cache.display())))?;
    // Another process may be building the same cache: wait for it rather than build twice.
    let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| SandboxError::Rootfs(format!("cannot lock {}: {e}", cache.display())))?;
    if root.join(READY_MARKER).exists() {
        if !root.join(SHIFTED_MARKER).exists() {
            shift_owners(&root).map_err(|e| SandboxError::Rootfs(format!("cannot shift owners in {}: {e}", root.display())))?;
            fs::File::create(root.join(SHIFTED_MARKER)).map_err(|e| SandboxError::Rootfs(e.to_string()))?;
        }
        return Ok(root);
    }
    let tmp = cache.join(format!("{ROOTFS_DIR}.tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    let log = cache.join("debootstrap.log");
    let log_file = fs::File::create(&log).map_err(|e| SandboxError::Rootfs(format!("cannot create {}: {e}", log.display())))?;
    let log_err = log_file.try_clone().map_err(|e| SandboxError::Rootfs(e.to_string()))?;
    let status = Command::new("debootstrap")
        .args(["--variant=minbase", &format!("--include={PACKAGES}"), SUITE])
        .arg(&tmp)
        .arg(mirror)
        .stdout(log_file)
        .stderr(log_err)
        .status()
        .map_err(|e| SandboxError::Rootfs(format!("cannot run debootstrap (apt-get install debootstrap): {e}")))?;
    if !status.success() {
        return Err(SandboxError::Rootfs(format!("debootstrap from {mirror} exited with {status} (log: {})", log.display())));
    }
    customize(&tmp).map_err(|e| SandboxError::Rootfs(format!("cannot prepare {}: {e}", tmp.display())))?;
    shift_owners(&tmp).map_err(|e| SandboxError::Rootfs(format!("cannot shift owners in {}: {e}", tmp.display())))?;
    fs::File::create(tmp.join(SHIFTED_MARKER)).map_err(|e| SandboxError::Rootfs(e.to_string()))?;
    fs::File::create(tmp.join(READY_MARKER)).map_err(|e| SandboxError::Rootfs(e.to_string()))?;
    let _ = fs::remove_dir_all(&root);
    fs::rename(&tmp, &root).map_err(|e| SandboxError::Rootfs(format!("cannot move the rootfs into place: {e}")))?;
    Ok(root)
}

/// Makes a fresh debootstrap a server image: no shared identity (host keys, machine id,
/// hostname), host keys made on each server's first boot, apt caches dropped.
fn customize(root: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(root.join("etc/ssh"))? {
        let path = entry?.path();
        if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("ssh_host_")) {
            fs::remove_file(path)?;
        }
    }
    let dropin = root.join("etc/systemd/system/ssh.service.d");
    fs::create_dir_all(&dropin)?;
    let mut f = fs::File::create(dropin.join("10-host-keys.conf"))?;
    // sshd -t fails without host keys, so the key generation must come first.
    f.write_all(b"[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n")?;
    // debootstrap leaves none; Debian's installer writes this one (the server's own name comes
    // from nss-myhostname, so nothing per server is written into the disk).
    if !root.join("etc/hosts").exists() {
        fs::write(
            root.join("etc/hosts"),
            "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n",
        )?;
    }
    fs::write(root.join("etc/machine-id"), b"")?;
    let _ = fs::remove_file(root.join("etc/hostname"));
    let _ = fs::remove_file(root.join("var/lib/dbus/machine-id"));
    for dir in ["var/cache/apt/archives", "var/lib/apt/lists"] {
        if let Ok(entries) = fs::read_dir(root.join(dir)) {
            for e in entries.flatten() {
                if e.path().is_file() {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
    }
    // pam_loginuid cannot write the audit login uid from a user namespace; as in unprivileged
    // containers, a failure there must not refuse the login.
    for pam in ["etc/pam.d/sshd", "etc/pam.d/login"] {
        if let Ok(text) = fs::read_to_string(root.join(pam)) {
            let patched = text
                .lines()
                .map(|l| if l.contains("pam_loginuid.so") && l.contains("required") { l.replacen("required", "optional", 1) } else { l.to_string() })
                .collect::<Vec<_>>()
                .join("\n");
            fs::write(root.join(pam), patched + "\n")?;
        }
    }
    fs::create_dir_all(root.join("root/.ssh"))?;
    fs::set_permissions(root.join("root/.ssh"), fs::Permissions::from_mode(0o700))?;
    Ok(())
}

/// Moves every file's owner and group from the host's low ids into the sandboxes' range, so that
/// root inside a sandbox's user namespace owns what root owned in the image. Idempotent: ids
/// already in the range are left as they are. chown clears set-id bits, so modes are restored.
pub fn shift_owners(root: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            for e in fs::read_dir(&path)? {
                stack.push(e?.path());
            }
        }
        let (uid, gid) = (meta.uid(), meta.gid());
        if uid >= ID_SHIFT && gid >= ID_SHIFT {
            continue;
        }
        let new_uid = if uid < ID_COUNT { uid + ID_SHIFT } else { uid };
        let new_gid = if gid < ID_COUNT { gid + ID_SHIFT } else { gid };
        std::os::unix::fs::lchown(&path, Some(new_uid), Some(new_gid))?;
        if !meta.file_type().is_symlink() && meta.mode() & 0o7000 != 0 {
            fs::set_permissions(&path, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        }
    }
    Ok(())
}
