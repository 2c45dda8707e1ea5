//! Data disks of a sandbox: each one a sparse file in the server's own folder, attached to a
//! loop device while the server runs, and shown inside as `/dev/vdb`, `/dev/vdc`, … through a
//! block node of its own (made on the host, owned by the sandbox's root; the host's
//! `/dev/loopN` keeps its owner and mode). The files are never readable by the sandbox's ids:
//! it reaches them only through the node, and only its own.
//!
//! Layout, under the server's folder: `data-disks/cce-data-vdb.img` (the disk) and
//! `data-disks/vdb` (the node, present only while the loop device is attached). The distinctive
//! file names let [`reclaim_orphans`] find what a killed process left attached.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::SandboxError;
use crate::rootfs::ID_SHIFT;

/// A data disk asked for by a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataDisk {
    /// Its size; the file is sparse, so only what is written takes room on the host.
    pub size_bytes: u64,
}

/// The folder of a server's data disks.
pub const DISKS_DIR: &str = "data-disks";
const IMAGE_PREFIX: &str = "cce-data-";
const IMAGE_SUFFIX: &str = ".img";
/// Names the sandbox the disks belong to, for `gc`.
const OWNER_FILE: &str = "sandbox-id";
/// `vdb` … `vdz`: `vda` is the system disk on a real server.
pub const MAX_DATA_DISKS: usize = 25;
/// How long a detached loop device may take to let go of its file.
const DETACH_TIMEOUT: Duration = Duration::from_secs(10);

/// The device name of the `index`-th data disk (`vdb` for 0).
pub fn device_name(index: usize) -> String {
    format!("vd{}", (b'b' + index as u8) as char)
}

/// The file of a data disk named `name` in the server folder `dir`.
pub fn image_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(DISKS_DIR).join(format!("{IMAGE_PREFIX}{name}{IMAGE_SUFFIX}"))
}

/// A loop device attached to a data disk's file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attached {
    /// `vdb`, …
    pub name: String,
    /// `/dev/loopN`.
    pub device: PathBuf,
    pub file: PathBuf,
}

/// Creates the missing disk files of `disks` (sparse) and attaches each to a loop device, with
/// its node `data-disks/<name>` owned by the sandbox's root. A file left attached by a killed
/// process is detached first. On error, what was attached is detached again.
pub fn attach_all(id: &str, dir: &Path, disks: &[DataDisk]) -> Result<Vec<Attached>, SandboxError> {
    if disks.is_empty() {
        return Ok(Vec::new());
    }
    if disks.len() > MAX_DATA_DISKS {
        return Err(SandboxError::Command {
            id: id.into(),
            command: "attach data disks".into(),
            stderr: format!("{} data disks asked for; at most {MAX_DATA_DISKS} fit (vdb…vdz)", disks.len()),
        });
    }
    let folder = dir.join(DISKS_DIR);
    fs::create_dir_all(&folder).map_err(|e| SandboxError::io(id, format!("create {}", folder.display()), e))?;
    // Readable by the sandbox's init, which binds the nodes it finds here; the files stay 0600.
    fs::set_permissions(&folder, fs::Permissions::from_mode(0o755))
        .map_err(|e| SandboxError::io(id, format!("chmod {}", folder.display()), e))?;
    let owner = folder.join(OWNER_FILE);
    fs::write(&owner, id).map_err(|e| SandboxError::io(id, format!("write {}", owner.display()), e))?;
    let mut attached = Vec::new();
    for (i, disk) in disks.iter().enumerate() {
        match attach_one(id, dir, &device_name(i), disk) {
            Ok(a) => attached.push(a),
            Err(e) => {
                detach_all(id, &attached);
                return Err(e);
            }
        }
    }
    Ok(attached)
}

fn attach_one(id: &str, dir: &Path, name: &str, disk: &DataDisk) -> Result<Attached, SandboxError> {
    let file = image_path(dir, name);
    if !file.exists() {
        let f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&file)
            .map_err(|e| SandboxError::io(id, format!("create {}", file.display()), e))?;
        f.set_len(disk.size_bytes).map_err(|e| SandboxError::io(id, format!("size {}", file.display()), e))?;
        // Only the host's root reads the file; the sandbox goes through its node.
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600))
            .map_err(|e| SandboxError::io(id, format!("chmod {}", file.display()), e))?;
    }
    let file = fs::canonicalize(&file).map_err(|e| SandboxError::io(id, format!("resolve {}", file.display()), e))?;
    for stale in devices_backing(&file) {
        detach_device(id, &stale)?;
    }
    let out = Command::new("losetup")
        .args(["--find", "--show"])
        .arg(&file)
        .output()
        .map_err(|e| SandboxError::io(id, "run losetup (apt-get install util-linux)", e))?;
    if !out.status.success() {
        return Err(SandboxError::Command {
            id: id.into(),
            command: format!("losetup --find --show {}", file.display()),
            stderr: format!(
                "{}; loop devices are needed for data disks (modprobe loop)",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    let device = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let attached = Attached { name: name.to_string(), device, file };
    if let Err(e) = make_node(id, dir, &attached) {
        let _ = detach_device(id, &attached.device);
        return Err(e);
    }
    Ok(attached)
}

/// The sandbox's own node for an attached loop device: same numbers, owned by its root.
fn make_node(id: &str, dir: &Path, a: &Attached) -> Result<(), SandboxError> {
    use nix::sys::stat::{Mode, SFlag, makedev, mknod};
    let loop_name = a.device.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let numbers = fs::read_to_string(format!("/sys/block/{loop_name}/dev"))
        .map_err(|e| SandboxError::io(id, format!("read the numbers of {}", a.device.display()), e))?;
    let (major, minor) = numbers
        .trim()
        .split_once(':')
        .and_then(|(ma, mi)| Some((ma.parse::<u64>().ok()?, mi.parse::<u64>().ok()?)))
        .ok_or_else(|| SandboxError::Command {
            id: id.into(),
            command: format!("read /sys/block/{loop_name}/dev"),
            stderr: format!("unexpected content `{}`", numbers.trim()),
        })?;
    let node = dir.join(DISKS_DIR).join(&a.name);
    let _ = fs::remove_file(&node);
    mknod(&node, SFlag::S_IFBLK, Mode::from_bits_truncate(0o660), makedev(major, minor))
        .map_err(|e| SandboxError::io(id, format!("mknod {}", node.display()), e.into()))?;
    std::os::unix::fs::chown(&node, Some(ID_SHIFT), Some(ID_SHIFT))
        .map_err(|e| SandboxError::io(id, format!("chown {}", node.display()), e))?;
    Ok(())
}

/// Removes the nodes and detaches the loop devices of `attached`; best effort, each failure
/// logged (a loop device that stays attached is found again by the next attach or by `gc`).
pub fn detach_all(id: &str, attached: &[Attached]) {
    for a in attached {
        if let Some(dir) = a.file.parent() {
            let _ = fs::remove_file(dir.join(&a.name));
        }
        // Only detach the device if it still backs our file: it may have been reused.
        if devices_backing(&a.file).contains(&a.device) {
            if let Err(e) = detach_device(id, &a.device) {
                tracing::warn!(sandbox = id, device = %a.device.display(), error = %e, "cannot detach a data disk");
            }
        }
    }
}

/// Detaches `device` and waits until the kernel has let go of its file.
fn detach_device(id: &str, device: &Path) -> Result<(), SandboxError> {
    let out = Command::new("losetup")
        .arg("-d")
        .arg(device)
        .output()
        .map_err(|e| SandboxError::io(id, "run losetup -d", e))?;
    if !out.status.success() {
        return Err(SandboxError::Command {
            id: id.into(),
            command: format!("losetup -d {}", device.display()),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let deadline = Instant::now() + DETACH_TIMEOUT;
    let name = device.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    // The kernel finishes a detach when the last opener closes the device.
    while Path::new(&format!("/sys/block/{name}/loop/backing_file")).exists() {
        if Instant::now() >= deadline {
            return Err(SandboxError::Command {
                id: id.into(),
                command: format!("losetup -d {}", device.display()),
                stderr: format!("still attached after {} s: something keeps it open", DETACH_TIMEOUT.as_secs()),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Every attached loop device with its backing file, as the kernel reports it (a removed file
/// ends in ` (deleted)`).
pub fn attached_loop_devices() -> Vec<(PathBuf, String)> {
    let Ok(entries) = fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    let mut list: Vec<(PathBuf, String)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            if !name.starts_with("loop") {
                return None;
            }
            let backing = fs::read_to_string(e.path().join("loop/backing_file")).ok()?;
            Some((PathBuf::from("/dev").join(name), backing.trim_end_matches('\n').to_string()))
        })
        .collect();
    list.sort();
    list
}

/// The loop devices whose backing file is `file`.
pub fn devices_backing(file: &Path) -> Vec<PathBuf> {
    let want = file.display().to_string();
    attached_loop_devices()
        .into_iter()
        .filter(|(_, b)| b == &want || b.strip_suffix(" (deleted)") == Some(want.as_str()))
        .map(|(d, _)| d)
        .collect()
}

/// Detaches every loop device still backing a data disk of the server folder `dir` (left by a
/// killed process) and removes its node; for deleting a server whose sandbox is not running.
pub fn detach_folder(id: &str, dir: &Path) -> Result<(), SandboxError> {
    let folder = fs::canonicalize(dir.join(DISKS_DIR)).unwrap_or_else(|_| dir.join(DISKS_DIR));
    for (device, backing) in attached_loop_devices() {
        let Some((owner, name)) = is_data_disk(&backing) else { continue };
        if owner == folder {
            let _ = fs::remove_file(folder.join(&name));
            detach_device(id, &device)?;
        }
    }
    Ok(())
}

/// Whether a backing file is a sandbox's data disk: `…/data-disks/cce-data-vdX.img`.
fn is_data_disk(backing: &str) -> Option<(PathBuf, String)> {
    let path = Path::new(backing.strip_suffix(" (deleted)").unwrap_or(backing));
    let folder = path.parent()?;
    if folder.file_name()? != DISKS_DIR {
        return None;
    }
    let file = path.file_name()?.to_str()?;
    let name = file.strip_prefix(IMAGE_PREFIX)?.strip_suffix(IMAGE_SUFFIX)?;
    let ok = name.len() == 3 && name.starts_with("vd") && name.as_bytes()[2].is_ascii_lowercase();
    ok.then(|| (folder.to_path_buf(), name.to_string()))
}

/// Detaches every loop device backing a data disk of a sandbox `wanted` and not in `live`
/// (after a crash of the process that ran it) and removes its node. Returns the ids of the sandboxes they
/// belonged to (the folder name when the id file is gone).
pub fn reclaim_orphans(live: &[String], wanted: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut ids = Vec::new();
    for (device, backing) in attached_loop_devices() {
        let Some((folder, name)) = is_data_disk(&backing) else { continue };
        let id = fs::read_to_string(folder.join(OWNER_FILE))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .or_else(|| folder.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().to_string()))
            .unwrap_or_default();
        if live.contains(&id) || !wanted(&id) {
            continue;
        }
        let _ = fs::remove_file(folder.join(&name));
        if let Err(e) = detach_device("gc", &device) {
            tracing::warn!(device = %device.display(), error = %e, "cannot detach a data disk left attached");
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_follow_the_system_disk() {
        assert_eq!(device_name(0), "vdb");
        assert_eq!(device_name(1), "vdc");
        assert_eq!(device_name(MAX_DATA_DISKS - 1), "vdz");
    }

    #[test]
    fn only_data_disk_files_are_recognised() {
        let dir = Path::new("/var/lib/x/servers/abc");
        let f = image_path(dir, "vdc").display().to_string();
        assert_eq!(is_data_disk(&f), Some((dir.join(DISKS_DIR), "vdc".into())));
        assert_eq!(is_data_disk(&format!("{f} (deleted)")), Some((dir.join(DISKS_DIR), "vdc".into())));
        assert_eq!(is_data_disk("/tmp/dtest/vdb.img"), None);
        assert_eq!(is_data_disk("/x/data-disks/other.img"), None);
        assert_eq!(is_data_disk("/x/elsewhere/cce-data-vdb.img"), None);
        assert_eq!(is_data_disk("/x/data-disks/cce-data-vd1.img"), None);
    }
}
