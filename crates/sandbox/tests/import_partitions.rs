//! Importing disks laid out as cloud images are: partition tables written by `sfdisk` (GPT with
//! BIOS boot and EFI partitions, MBR with a separate `/boot`, logical partitions), filesystems
//! made by `mkfs.ext4`, converted to qcow2 by `qemu-img`, read back by `image::import`. The
//! root is the partition with `etc/os-release`, wherever it is.

mod common;

use std::io::{Seek, SeekFrom, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};

use cce_sandbox::image::{self, PartitionKind};
use common::prerequisites;

const MIB: u64 = 1 << 20;

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("the tool runs");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// An ext4 filesystem image of `size_mib` holding `files` (path, content).
fn ext4(dir: &Path, name: &str, size_mib: u64, files: &[(&str, &str)]) -> std::path::PathBuf {
    let tree = dir.join(format!("{name}.tree"));
    for (path, content) in files {
        let p = tree.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    std::fs::create_dir_all(&tree).unwrap();
    let img = dir.join(format!("{name}.ext4"));
    run(Command::new("mkfs.ext4").args(["-q", "-F", "-d"]).arg(&tree).arg(&img).arg(format!("{size_mib}M")));
    img
}

/// A raw disk of `size_mib` partitioned by `sfdisk` from `script`, with each filesystem image
/// written at its partition's start (partition number, image).
fn disk(dir: &Path, name: &str, size_mib: u64, script: &str, fill: &[(u32, &Path)]) -> std::path::PathBuf {
    let raw = dir.join(format!("{name}.raw"));
    std::fs::File::create(&raw).unwrap().set_len(size_mib * MIB).unwrap();
    let mut child = Command::new("sfdisk")
        .args(["--quiet", "--no-reread", "--no-tell-kernel"])
        .arg(&raw)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sfdisk runs (apt-get install fdisk)");
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "sfdisk: {}", String::from_utf8_lossy(&out.stderr));
    let parts = image::partitions(&mut std::fs::File::open(&raw).unwrap()).unwrap().expect("a partition table");
    for (number, img) in fill {
        let p = parts.iter().find(|p| p.number == *number).unwrap_or_else(|| panic!("no partition {number}: {parts:?}"));
        let bytes = std::fs::read(img).unwrap();
        assert!(bytes.len() as u64 <= p.size, "{} does not fit partition {number}", img.display());
        let mut f = std::fs::OpenOptions::new().write(true).open(&raw).unwrap();
        f.seek(SeekFrom::Start(p.offset)).unwrap();
        f.write_all(&bytes).unwrap();
    }
    let qcow2 = dir.join(format!("{name}.qcow2"));
    run(Command::new("qemu-img").args(["convert", "-f", "raw", "-O", "qcow2"]).arg(&raw).arg(&qcow2));
    qcow2
}

/// Imports `qcow2` as the layer `layers/<name>` under `d`.
fn import(d: &Path, name: &str, qcow2: &Path) -> Result<std::path::PathBuf, String> {
    let layer = d.join("layers").join(name);
    image::import(qcow2, &layer, &d.join("work")).map_err(|e| e.to_string())?;
    Ok(layer)
}

fn read(layer: &Path, path: &str) -> String {
    std::fs::read_to_string(layer.join(path)).unwrap_or_else(|e| panic!("{path} in the imported layer: {e}"))
}

const ROOT: &[(&str, &str)] = &[("etc/os-release", "ID=euleros\n"), ("opt/which", "root\n")];
const BOOT: &[(&str, &str)] = &[("vmlinuz-6.1", "kernel\n"), ("opt/which", "boot\n")];

#[test]
fn gpt_disk_with_boot_partitions_imports_its_root() {
    if !prerequisites() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let root = ext4(d, "root", 24, ROOT);
    let boot = ext4(d, "boot", 8, BOOT);
    // As Ubuntu's cloud images: BIOS boot and EFI first, a Linux /boot, then the root.
    let script = "label: gpt\n\
        size=1MiB, type=21686148-6449-6E6F-744E-656564454649\n\
        size=4MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n\
        size=10MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n\
        type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n";
    let qcow2 = disk(d, "gpt", 48, script, &[(3, &boot), (4, &root)]);
    let raw = d.join("gpt.raw");
    let parts = image::partitions(&mut std::fs::File::open(&raw).unwrap()).unwrap().unwrap();
    let kinds: Vec<(u32, PartitionKind)> = parts.iter().map(|p| (p.number, p.kind)).collect();
    assert_eq!(
        kinds,
        vec![(1, PartitionKind::Other), (2, PartitionKind::Other), (3, PartitionKind::Filesystem), (4, PartitionKind::Filesystem)]
    );
    let layer = import(d, "gpt", &qcow2).expect("import");
    assert_eq!(read(&layer, "opt/which"), "root\n");
    assert!(!layer.join("vmlinuz-6.1").exists(), "the /boot partition is not the root");
}

#[test]
fn mbr_disk_with_boot_first_and_root_logical_imports_its_root() {
    if !prerequisites() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let root = ext4(d, "root", 24, ROOT);
    let boot = ext4(d, "boot", 8, BOOT);
    // /boot primary, swap primary, the root as the first logical partition (vda5).
    let script = "label: dos\n\
        size=10MiB, type=83\n\
        size=2MiB, type=82\n\
        type=5\n\
        type=83\n";
    let qcow2 = disk(d, "mbr", 48, script, &[(1, &boot), (5, &root)]);
    let layer = import(d, "mbr", &qcow2).expect("import");
    assert_eq!(read(&layer, "opt/which"), "root\n");
}

#[test]
fn a_disk_without_a_root_says_why() {
    if !prerequisites() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // An LVM physical volume and an empty Linux partition that holds no filesystem.
    let script = "label: gpt\n\
        size=8MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n\
        type=E6D6D379-F507-44C2-A23C-238F2A3DF928\n";
    let qcow2 = disk(d, "lvm", 24, script, &[]);
    let e = import(d, "lvm", &qcow2).expect_err("no root");
    assert!(e.contains("has no root filesystem"), "{e}");
    assert!(e.contains("partition 1 does not mount"), "{e}");
    assert!(e.contains("LVM, which is not supported") && e.contains("root tarball"), "{e}");
    assert!(!d.join("layers/lvm").exists(), "no partial layer");
}

#[test]
fn one_partition_without_os_release_is_still_taken() {
    if !prerequisites() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let only = ext4(d, "only", 16, &[("srv/data", "x\n")]);
    let qcow2 = disk(d, "one", 24, "label: dos\ntype=83\n", &[(1, &only)]);
    let layer = import(d, "one", &qcow2).expect("import");
    assert_eq!(read(&layer, "srv/data"), "x\n");
}
