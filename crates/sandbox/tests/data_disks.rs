//! Data disks through the real path: a sandbox with two data disks, `mkfs.ext4` and `dd` on them
//! over real SSH, a `mount` refused without reaching the host, the data kept across a reboot and
//! a stop/start (the loop devices detached while stopped), the host's block devices unchanged,
//! and nothing attached or left on disk after delete. Needs root; under `CI=true` a missing
//! prerequisite fails the test instead of skipping it.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Setup, boot, prerequisites, setup, wait_second_boot};

use cce_sandbox::disks::{attached_loop_devices, image_path};
use cce_sandbox::{DataDisk, SandboxSpec, SandboxState};

const MIB: u64 = 1024 * 1024;

/// The host's block devices that are not loop devices (disks, partitions, device-mapper).
fn host_block_devices() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/block")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| !n.starts_with("loop"))
        .collect();
    names.sort();
    names
}

/// Loop devices whose backing file is under `dir`.
fn loops_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let prefix = dir.display().to_string();
    attached_loop_devices().into_iter().filter(|(_, b)| b.starts_with(&prefix)).collect()
}

/// Mounts of the host's mount namespace that name a loop device or a file under `dir`.
fn host_mounts_of(dir: &Path, devices: &[PathBuf]) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/1/mountinfo").unwrap();
    info.lines()
        .filter(|l| l.contains(&dir.display().to_string()) || devices.iter().any(|d| l.contains(&d.display().to_string())))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_disks_are_block_devices_that_keep_their_data_and_never_reach_the_host() {
    if !prerequisites() {
        return;
    }
    let Setup { base: rootfs, tmp, key, public } = setup().await;
    let tmp_path = std::fs::canonicalize(tmp.path()).unwrap();
    let dir = tmp_path.join("server");
    let id = format!("d{}", std::process::id());
    let spec = SandboxSpec {
        id: id.clone(),
        hostname: "cce-disk-node".into(),
        dir: dir.clone(),
        layers: vec![rootfs],
        authorized_keys: Some(public),
        user_data: None,
        admin_pass: None,
        data_disks: vec![DataDisk { size_bytes: 64 * MIB }, DataDisk { size_bytes: 32 * MIB }],
        boot_timeout: Duration::from_secs(60),
    };
    let blocks_before = host_block_devices();
    let (sb, fwd, ssh) = boot(spec, &key, None).await;

    let attached = sb.data_disks();
    assert_eq!(attached.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["vdb", "vdc"]);
    let devices: Vec<PathBuf> = attached.iter().map(|a| a.device.clone()).collect();
    let mut ours: Vec<(PathBuf, String)> =
        attached.iter().map(|a| (a.device.clone(), a.file.display().to_string())).collect();
    ours.sort();
    assert_eq!(loops_under(&tmp_path), ours, "exactly the two disks are attached, to the server's own files");
    for a in &attached {
        assert!(a.file.starts_with(dir.join("data-disks")), "{} is not in the server's folder", a.file.display());
    }
    // The files are sparse: nothing written yet takes no room.
    let vdb_file = image_path(&dir, "vdb");
    let vdc_file = image_path(&dir, "vdc");
    assert_eq!(std::fs::metadata(&vdb_file).unwrap().len(), 64 * MIB);
    assert!(std::os::unix::fs::MetadataExt::blocks(&std::fs::metadata(&vdb_file).unwrap()) < 64, "vdb is not sparse");
    // The host's own loop device node keeps its owner.
    let host_node = std::fs::metadata(&devices[0]).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&host_node), 0, "the host's {} changed owner", devices[0].display());

    let dir_inside = dir.clone();
    let (ssh, checksum) = tokio::task::spawn_blocking(move || {
        assert_eq!(ssh.ok("ls /dev | grep -E '^vd' | tr '\\n' ' '"), "vdb vdc");
        assert_eq!(ssh.ok("blockdev --getsize64 /dev/vdb"), (64 * MIB).to_string());
        assert_eq!(ssh.ok("blockdev --getsize64 /dev/vdc"), (32 * MIB).to_string());
        ssh.ok("mkfs.ext4 -q -F -L cce-data /dev/vdb");
        ssh.ok("dd if=/dev/urandom of=/dev/vdc bs=4096 count=64 seek=16 conv=fsync status=none");
        let checksum = ssh.ok("dd if=/dev/vdc bs=4096 count=64 skip=16 status=none | sha256sum | cut -d' ' -f1");
        assert_eq!(ssh.ok("dumpe2fs -h /dev/vdb 2>/dev/null | sed -n 's/^Filesystem volume name: *//p'"), "cce-data");
        // A mount of a disk filesystem is refused in the sandbox's user namespace.
        let (code, out) = ssh.run("mkdir -p /mnt/data && mount /dev/vdb /mnt/data");
        assert_ne!(code, 0, "mount of a data disk succeeded inside: {out}");
        // The files behind the disks are out of reach inside.
        let (code, _) = ssh.run(&format!("test -e {}", dir_inside.join("data-disks").display()));
        assert_ne!(code, 0, "the server's folder is visible inside");
        (ssh, checksum)
    })
    .await
    .unwrap();
    assert!(host_mounts_of(&tmp_path, &devices).is_empty(), "a mount reached the host: {:?}", host_mounts_of(&tmp_path, &devices));
    // What was written inside is on the host's file, as the host reads it.
    let label = std::process::Command::new("dumpe2fs").arg("-h").arg(&vdb_file).output().unwrap();
    assert!(String::from_utf8_lossy(&label.stdout).contains("cce-data"), "{}", String::from_utf8_lossy(&label.stderr));

    // Reboot from inside: the disks stay attached and keep their data.
    let (ssh, mut sb) = tokio::task::spawn_blocking(move || {
        let _ = ssh.run("systemctl reboot");
        wait_second_boot(&sb, &ssh);
        assert_eq!(ssh.ok("blkid -s LABEL -o value /dev/vdb"), "cce-data");
        (ssh, sb)
    })
    .await
    .unwrap();
    assert_eq!(sb.data_disks(), attached, "a reboot changed the loop devices");

    // Stop detaches the loop devices and keeps the files; start attaches them again.
    let tmp_for_stop = tmp_path.clone();
    let (ssh, sb) = tokio::task::spawn_blocking(move || {
        sb.stop(Duration::from_secs(30)).expect("stop");
        assert_eq!(sb.state(), SandboxState::Stopped);
        assert!(sb.data_disks().is_empty());
        assert!(loops_under(&tmp_for_stop).is_empty(), "loop devices left attached after stop: {:?}", loops_under(&tmp_for_stop));
        assert!(vdb_file.exists() && vdc_file.exists(), "a disk file went with stop");
        assert!(!vdb_file.with_file_name("vdb").exists(), "the node stays after stop");
        sb.start().expect("start after stop");
        ssh.wait_up(Duration::from_secs(30));
        (ssh, sb)
    })
    .await
    .unwrap();
    assert_eq!(sb.data_disks().len(), 2);
    let ssh = tokio::task::spawn_blocking(move || {
        assert_eq!(ssh.ok("dumpe2fs -h /dev/vdb 2>/dev/null | sed -n 's/^Filesystem volume name: *//p'"), "cce-data");
        assert_eq!(ssh.ok("dd if=/dev/vdc bs=4096 count=64 skip=16 status=none | sha256sum | cut -d' ' -f1"), checksum);
        ssh
    })
    .await
    .unwrap();
    assert_eq!(host_block_devices(), blocks_before, "the host's block devices changed");

    // Delete of a running server detaches everything and removes the files.
    let tmp_for_delete = tmp_path.clone();
    tokio::task::spawn_blocking(move || {
        sb.delete().expect("delete");
        assert!(loops_under(&tmp_for_delete).is_empty(), "loop devices left after delete: {:?}", loops_under(&tmp_for_delete));
        assert!(!dir.exists(), "server folder left after delete");
        drop(ssh);
    })
    .await
    .unwrap();
    drop(fwd);
}
