//! Images of the local cloud as stacks of layers: a base root filesystem (debootstrapped, or
//! imported from a tarball or a qcow2/raw disk) under the overlay uppers captured from servers.
//! Export flattens a stack into a disk with a partition table and an ext4 filesystem and converts
//! it with `qemu-img` (qcow2, raw, vhd), or into a tarball. Owners inside layers are shifted into
//! the sandboxes' id range; exports and imports shift them back and forth.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::rootfs::{shift_owners, ID_COUNT, ID_SHIFT};
use crate::SandboxError;

/// Formats `export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Qcow2,
    Raw,
    Vhd,
    Tar,
}

impl std::str::FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "qcow2" => Ok(Self::Qcow2),
            "raw" => Ok(Self::Raw),
            "vhd" | "vpc" => Ok(Self::Vhd),
            "tar" => Ok(Self::Tar),
            other => Err(format!("unknown disk format `{other}`: use qcow2, raw, vhd or tar")),
        }
    }
}

/// Offset of the root partition in exported disks: 1 MiB, as partitioning tools align it.
pub const PARTITION_OFFSET: u64 = 1 << 20;
const SECTOR: u64 = 512;

fn err(what: impl Into<String>) -> SandboxError {
    SandboxError::Image(what.into())
}

fn run(cmd: &mut Command) -> Result<(), SandboxError> {
    let out = cmd.output().map_err(|e| err(format!("cannot run {cmd:?}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(err(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim())))
    }
}

/// Copies a folder tree with owners, modes, times, links, device nodes and extended attributes
/// (overlay whiteouts and opaque markers survive), into `dst` made atomically.
pub fn copy_tree(src: &Path, dst: &Path) -> Result<(), SandboxError> {
    let tmp = dst.with_extension(format!("tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| err(format!("cannot create {}: {e}", tmp.display())))?;
    run(Command::new("cp").arg("-a").arg(format!("{}/.", src.display())).arg(&tmp))?;
    let _ = fs::remove_dir_all(dst);
    fs::rename(&tmp, dst).map_err(|e| err(format!("cannot move {} into place: {e}", dst.display())))
}

/// Moves owners in the sandboxes' range back to the host's low ids (the inverse of `shift_owners`).
pub fn unshift_owners(root: &Path) -> std::io::Result<()> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            for e in fs::read_dir(&path)? {
                stack.push(e?.path());
            }
        }
        let back = |id: u32| if (ID_SHIFT..ID_SHIFT + ID_COUNT).contains(&id) { id - ID_SHIFT } else { id };
        let (uid, gid) = (back(meta.uid()), back(meta.gid()));
        if (uid, gid) != (meta.uid(), meta.gid()) {
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid))?;
            if !meta.file_type().is_symlink() && meta.mode() & 0o7000 != 0 {
                fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(meta.mode() & 0o7777))?;
            }
        }
    }
    Ok(())
}

/// Flattens a stack of layers (topmost first) into `tree`, with host owners (shifted back).
pub fn flatten(layers: &[PathBuf], tree: &Path) -> Result<(), SandboxError> {
    match layers {
        [] => return Err(err("an image needs at least one layer")),
        [only] => copy_tree(only, tree)?,
        _ => {
            let mnt = tree.with_extension("mnt");
            fs::create_dir_all(&mnt).map_err(|e| err(format!("cannot create {}: {e}", mnt.display())))?;
            fs::create_dir_all(tree).map_err(|e| err(format!("cannot create {}: {e}", tree.display())))?;
            let lower = layers.iter().map(|l| l.display().to_string()).collect::<Vec<_>>().join(":");
            // A read-only overlay of the layers applies their whiteouts; it lives in a private
            // mount namespace, so nothing is left mounted on the host whatever happens.
            // Layers written from a sandbox's user namespace mark opaque folders with user.*
            // attributes, hence userxattr.
            let script = "mount -t overlay overlay -o \"ro,userxattr,lowerdir=$0\" \"$1\" && cp -a \"$1/.\" \"$2\"";
            run(Command::new("unshare")
                .args(["--mount", "--propagation", "private", "sh", "-c", script])
                .arg(&lower)
                .arg(&mnt)
                .arg(tree))?;
            let _ = fs::remove_dir(&mnt);
        }
    }
    unshift_owners(tree).map_err(|e| err(format!("cannot shift owners back in {}: {e}", tree.display())))
}

fn tree_bytes(root: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(meta) = fs::symlink_metadata(&p) else { continue };
        total += meta.blocks() * 512;
        if meta.is_dir() {
            if let Ok(rd) = fs::read_dir(&p) {
                stack.extend(rd.flatten().map(|e| e.path()));
            }
        }
    }
    total
}

/// A master boot record with one bootable Linux partition from `PARTITION_OFFSET` for
/// `part_bytes`.
pub fn mbr(part_bytes: u64, disk_signature: u32) -> [u8; 512] {
    let mut m = [0u8; 512];
    m[440..444].copy_from_slice(&disk_signature.to_le_bytes());
    let e = &mut m[446..462];
    e[0] = 0x80;
    // CHS fields are unused by modern firmware: the conventional "LBA only" values.
    e[1..4].copy_from_slice(&[0xFE, 0xFF, 0xFF]);
    e[4] = 0x83;
    e[5..8].copy_from_slice(&[0xFE, 0xFF, 0xFF]);
    let start = u32::try_from(PARTITION_OFFSET / SECTOR).unwrap_or(u32::MAX);
    let count = u32::try_from(part_bytes / SECTOR).unwrap_or(u32::MAX);
    e[8..12].copy_from_slice(&start.to_le_bytes());
    e[12..16].copy_from_slice(&count.to_le_bytes());
    m[510] = 0x55;
    m[511] = 0xAA;
    m
}

/// The byte offset and length of the first Linux partition of an MBR disk, if it has one.
pub fn find_linux_partition(first_sector: &[u8]) -> Option<(u64, u64)> {
    if first_sector.len() < 512 || first_sector[510..512] != [0x55, 0xAA] {
        return None;
    }
    (0..4).find_map(|i| {
        let e = &first_sector[446 + i * 16..462 + i * 16];
        let start = u64::from(u32::from_le_bytes([e[8], e[9], e[10], e[11]]));
        let count = u64::from(u32::from_le_bytes([e[12], e[13], e[14], e[15]]));
        (e[4] == 0x83 && count > 0).then_some((start * SECTOR, count * SECTOR))
    })
}

/// What a partition holds, as far as the partition table says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionKind {
    /// A filesystem a Linux root may be on (MBR 0x83; GPT Linux data, Linux root, or basic data).
    Filesystem,
    /// An LVM physical volume: its volumes cannot be read without activating the group.
    Lvm,
    /// Anything else (EFI system, BIOS boot, swap, extended…): never the root.
    Other,
}

/// One partition of a disk, numbered as Linux numbers them (`vda1`, `vda5` for the first logical).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    pub number: u32,
    pub offset: u64,
    pub size: u64,
    pub kind: PartitionKind,
}

fn le32(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// A GPT type GUID as it is written (`0FC63DAF-8483-4772-8E79-3D69D8477DE4`): the first three
/// fields are stored little-endian.
fn guid(b: &[u8]) -> String {
    format!(
        "{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    )
}

fn gpt_kind(type_guid: &str) -> PartitionKind {
    match type_guid {
        // Linux filesystem data, root (x86-64, AArch64), and Microsoft basic data, which older
        // tools wrote for Linux filesystems too.
        "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
        | "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"
        | "B921B045-1DF0-41C3-AF44-4C6F280D3FAE"
        | "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" => PartitionKind::Filesystem,
        "E6D6D379-F507-44C2-A23C-238F2A3DF928" => PartitionKind::Lvm,
        _ => PartitionKind::Other,
    }
}

fn mbr_kind(t: u8) -> PartitionKind {
    match t {
        0x83 => PartitionKind::Filesystem,
        0x8e => PartitionKind::Lvm,
        _ => PartitionKind::Other,
    }
}

/// The partitions of a raw disk: the four primary MBR entries with the logical ones of an
/// extended partition, or the GPT behind a protective MBR. `None` when the disk has no
/// partition table (a bare filesystem). 512-byte sectors, as cloud images use.
pub fn partitions(disk: &mut (impl Read + Seek)) -> std::io::Result<Option<Vec<Partition>>> {
    let mut read_at = |offset: u64, len: usize| -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        disk.seek(SeekFrom::Start(offset))?;
        disk.read_exact(&mut buf)?;
        Ok(buf)
    };
    let mbr = read_at(0, 512)?;
    if mbr[510..512] != [0x55, 0xAA] {
        return Ok(None);
    }
    let entry = |i: usize| &mbr[446 + i * 16..462 + i * 16];
    if (0..4).any(|i| entry(i)[4] == 0xEE) {
        let header = read_at(SECTOR, 512)?;
        if &header[0..8] != b"EFI PART" {
            return Ok(None);
        }
        let (table_lba, count, size) = (le64(&header, 72), le32(&header, 80), le32(&header, 84));
        if !(128..=4096).contains(&size) || count == 0 {
            return Ok(None);
        }
        // 256 entries is far more than any disk image has; a corrupt count must not allocate GiBs.
        let count = count.min(256);
        let table = read_at(table_lba * SECTOR, (count * size) as usize)?;
        let mut out = Vec::new();
        for (i, e) in table.chunks(size as usize).enumerate() {
            if e[0..16].iter().all(|&b| b == 0) {
                continue;
            }
            let (first, last) = (le64(e, 32), le64(e, 40));
            if last < first {
                continue;
            }
            out.push(Partition {
                number: i as u32 + 1,
                offset: first * SECTOR,
                size: (last - first + 1) * SECTOR,
                kind: gpt_kind(&guid(&e[0..16])),
            });
        }
        return Ok(Some(out));
    }
    let mut out = Vec::new();
    let mut extended = None;
    for i in 0..4 {
        let e = entry(i);
        let (start, count) = (le32(e, 8), le32(e, 12));
        if e[4] == 0 || count == 0 {
            continue;
        }
        if matches!(e[4], 0x05 | 0x0f | 0x85) {
            extended = Some(start);
            continue;
        }
        out.push(Partition {
            number: i as u32 + 1,
            offset: start * SECTOR,
            size: count * SECTOR,
            kind: mbr_kind(e[4]),
        });
    }
    // Logical partitions: a chain of extended boot records, each relative to the extended
    // partition's start; the chain is bounded so that a loop in a corrupt disk ends.
    if let Some(ext) = extended {
        let mut ebr = ext;
        for number in 5..133 {
            let rec = read_at(ebr * SECTOR, 512)?;
            if rec[510..512] != [0x55, 0xAA] {
                break;
            }
            let (l, next) = (&rec[446..462], &rec[462..478]);
            if l[4] != 0 && le32(l, 12) > 0 {
                out.push(Partition {
                    number,
                    offset: (ebr + le32(l, 8)) * SECTOR,
                    size: le32(l, 12) * SECTOR,
                    kind: mbr_kind(l[4]),
                });
            }
            if next[4] == 0 || le32(next, 8) == 0 {
                break;
            }
            ebr = ext + le32(next, 8);
        }
    }
    Ok(Some(out))
}

/// Writes a raw disk (MBR + one ext4 partition) holding `tree`.
pub fn make_raw_disk(tree: &Path, out: &Path, work: &Path) -> Result<(), SandboxError> {
    let content = tree_bytes(tree);
    // Room for metadata and for a node that grows: a third more, at least 256 MiB, in whole MiB.
    let part_bytes = ((content + content / 3 + (256 << 20)) >> 20 << 20).max(512 << 20);
    let part = work.join("root.ext4");
    run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "cce-root", "-E", "root_owner=0:0", "-d"])
        .arg(tree)
        .arg(&part)
        .arg(format!("{}M", part_bytes >> 20)))?;
    let mut disk = fs::File::create(out).map_err(|e| err(format!("cannot create {}: {e}", out.display())))?;
    disk.write_all(&mbr(part_bytes, 0x4343_4500)).map_err(|e| err(format!("cannot write {}: {e}", out.display())))?;
    disk.seek(SeekFrom::Start(PARTITION_OFFSET)).map_err(|e| err(e.to_string()))?;
    let mut src = fs::File::open(&part).map_err(|e| err(e.to_string()))?;
    copy_sparse(&mut src, &mut disk).map_err(|e| err(format!("cannot write {}: {e}", out.display())))?;
    disk.set_len(PARTITION_OFFSET + part_bytes).map_err(|e| err(e.to_string()))?;
    let _ = fs::remove_file(&part);
    Ok(())
}

/// Copies `src` into `dst` at its current offset, seeking over zero blocks to keep it sparse.
fn copy_sparse(src: &mut fs::File, dst: &mut fs::File) -> std::io::Result<()> {
    use std::io::Read as _;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        if buf[..n].iter().all(|&b| b == 0) {
            dst.seek(SeekFrom::Current(n as i64))?;
        } else {
            dst.write_all(&buf[..n])?;
        }
    }
}

/// Exports an image (layers topmost first) to `out` in `format`; `work` is scratch space.
pub fn export(layers: &[PathBuf], format: ExportFormat, out: &Path, work: &Path) -> Result<(), SandboxError> {
    fs::create_dir_all(work).map_err(|e| err(format!("cannot create {}: {e}", work.display())))?;
    let tree = work.join("tree");
    let _ = fs::remove_dir_all(&tree);
    flatten(layers, &tree)?;
    let result = match format {
        ExportFormat::Tar => run(Command::new("tar")
            .args(["--numeric-owner", "--xattrs", "--xattrs-include=*", "-C"])
            .arg(&tree)
            .arg("-cf")
            .arg(out)
            .arg(".")),
        ExportFormat::Raw => make_raw_disk(&tree, out, work),
        ExportFormat::Qcow2 | ExportFormat::Vhd => {
            let raw = work.join("disk.raw");
            make_raw_disk(&tree, &raw, work)?;
            let mut cmd = Command::new("qemu-img");
            cmd.args(["convert", "-f", "raw"]);
            if format == ExportFormat::Qcow2 {
                cmd.args(["-O", "qcow2"]);
            } else {
                // force_size keeps the virtual size exact instead of rounding it to a CHS geometry.
                cmd.args(["-O", "vpc", "-o", "subformat=dynamic,force_size=on"]);
            }
            let r = run(cmd.arg(&raw).arg(out));
            let _ = fs::remove_file(&raw);
            r
        }
    };
    let _ = fs::remove_dir_all(&tree);
    result
}

/// Imports a root tarball or a qcow2/raw/vhd disk (MBR with a Linux partition, or a bare
/// filesystem) as a base layer at `layer` (owners shifted into the sandboxes' range).
pub fn import(file: &Path, layer: &Path, work: &Path) -> Result<(), SandboxError> {
    fs::create_dir_all(work).map_err(|e| err(format!("cannot create {}: {e}", work.display())))?;
    let tree = work.join("import");
    let _ = fs::remove_dir_all(&tree);
    fs::create_dir_all(&tree).map_err(|e| err(e.to_string()))?;
    let name = file.to_string_lossy();
    if name.ends_with(".tar") || name.ends_with(".tar.gz") || name.ends_with(".tgz") || name.ends_with(".tar.xz") {
        run(Command::new("tar").args(["--numeric-owner", "--xattrs", "--xattrs-include=*", "-C"]).arg(&tree).arg("-xf").arg(file))?;
    } else {
        let raw = work.join("import.raw");
        run(Command::new("qemu-img").args(["convert", "-O", "raw"]).arg(file).arg(&raw))
            .map_err(|e| err(format!("{} is neither a root tarball nor a disk qemu-img reads: {e}", file.display())))?;
        let read = import_filesystem(&raw, &work.join("import.mnt"), &tree, file);
        let _ = fs::remove_file(&raw);
        read?;
    }
    shift_owners(&tree).map_err(|e| err(format!("cannot shift owners in {}: {e}", tree.display())))?;
    let _ = fs::remove_dir_all(layer);
    if let Some(parent) = layer.parent() {
        fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
    }
    fs::rename(&tree, layer).map_err(|e| err(format!("cannot move the import into {}: {e}", layer.display())))
}

/// Copies the root filesystem of the raw disk `raw` into `tree`. A disk without a partition
/// table is one filesystem. Otherwise the filesystem partitions are tried in order and the
/// first that holds `etc/os-release` is the root (so a separate `/boot` or data partition is
/// passed over); if none holds it, the first that mounts is taken.
fn import_filesystem(raw: &Path, mnt: &Path, tree: &Path, file: &Path) -> Result<(), SandboxError> {
    let table = fs::File::open(raw)
        .and_then(|mut f| partitions(&mut f))
        .map_err(|e| err(format!("{} is too small to be a disk: {e}", file.display())))?;
    let len = fs::metadata(raw).map(|m| m.len()).unwrap_or(0);
    fs::create_dir_all(mnt).map_err(|e| err(e.to_string()))?;
    // Exit 3: mounted, but no os-release (not a root filesystem).
    let copy = |offset: u64, size: u64, need_root: bool| {
        let script = "mount -o \"ro,loop,offset=$0,sizelimit=$1\" \"$2\" \"$3\" || exit 2
            if [ \"$5\" = 1 ] && ! { [ -e \"$3/etc/os-release\" ] || [ -L \"$3/etc/os-release\" ] || [ -e \"$3/usr/lib/os-release\" ]; }; then exit 3; fi
            cp -a \"$3/.\" \"$4\"";
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", script])
            .arg(offset.to_string())
            .arg(size.to_string())
            .arg(raw)
            .arg(mnt)
            .arg(tree)
            .arg(if need_root { "1" } else { "0" })
            .output()
    };
    let result = match table {
        None => match copy(0, len, false) {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(err(format!(
                "cannot read the filesystem of {} (no partition table, and the disk is not a filesystem this kernel mounts): {}",
                file.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            ))),
            Err(e) => Err(err(format!("cannot run unshare: {e}"))),
        },
        Some(parts) => {
            let candidates: Vec<&Partition> = parts.iter().filter(|p| p.kind == PartitionKind::Filesystem).collect();
            let mut why = Vec::new();
            let mut mounted = Vec::new();
            let mut done = false;
            for p in &candidates {
                match copy(p.offset, p.size, true) {
                    Ok(o) if o.status.success() => {
                        done = true;
                        break;
                    }
                    Ok(o) if o.status.code() == Some(3) => {
                        mounted.push(*p);
                        why.push(format!("partition {} holds no etc/os-release", p.number));
                    }
                    Ok(o) => why.push(format!("partition {} does not mount: {}", p.number, String::from_utf8_lossy(&o.stderr).trim())),
                    Err(e) => return Err(err(format!("cannot run unshare: {e}"))),
                }
                // A failed try may have copied nothing, but clear it for the next one.
                let _ = fs::remove_dir_all(tree);
                let _ = fs::create_dir_all(tree);
            }
            if !done {
                if let Some(p) = mounted.first() {
                    match copy(p.offset, p.size, false) {
                        Ok(o) if o.status.success() => done = true,
                        Ok(o) => why.push(format!("partition {}: {}", p.number, String::from_utf8_lossy(&o.stderr).trim())),
                        Err(e) => return Err(err(format!("cannot run unshare: {e}"))),
                    }
                }
            }
            if done {
                Ok(())
            } else {
                let lvm = parts.iter().any(|p| p.kind == PartitionKind::Lvm);
                let mut msg = format!("{} has no root filesystem this can read", file.display());
                if candidates.is_empty() {
                    msg.push_str(&format!(" ({} partitions, none of them a Linux filesystem)", parts.len()));
                } else {
                    msg.push_str(&format!(" ({})", why.join("; ")));
                }
                if lvm {
                    msg.push_str(": its root is on LVM, which is not supported; import a root tarball of it instead (tar --numeric-owner -C / -cf root.tar .)");
                }
                Err(err(msg))
            }
        }
    };
    let _ = fs::remove_dir(mnt);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbr_round_trips_the_partition() {
        let m = mbr(512 << 20, 7);
        assert_eq!(find_linux_partition(&m), Some((PARTITION_OFFSET, 512 << 20)));
        assert_eq!(&m[510..], &[0x55, 0xAA]);
        assert_eq!(find_linux_partition(&[0u8; 512]), None);
    }

    #[test]
    fn formats_parse_with_a_clear_refusal() {
        assert_eq!("qcow2".parse::<ExportFormat>(), Ok(ExportFormat::Qcow2));
        assert_eq!("vhd".parse::<ExportFormat>(), Ok(ExportFormat::Vhd));
        assert!("zvhd2".parse::<ExportFormat>().unwrap_err().contains("use qcow2, raw, vhd or tar"));
    }
}
