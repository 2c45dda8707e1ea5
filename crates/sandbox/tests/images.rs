//! Images through the real path: a provisioned server's disk captured as a layer, a new server
//! booted from it, the image exported as qcow2/raw/vhd/tar with `qemu-img` and read back, and a
//! disk imported as a new base image that boots.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cce_sandbox::image::{self, ExportFormat};
use cce_sandbox::SandboxSpec;
use common::{Setup, boot, prerequisites, setup};

fn spec(id: &str, dir: PathBuf, layers: Vec<PathBuf>, public: &str) -> SandboxSpec {
    SandboxSpec { id: id.into(), hostname: id.into(), dir, layers, authorized_keys: Some(public.into()), user_data: None, admin_pass: None, data_disks: Vec::new(), boot_timeout: Duration::from_secs(60) }
}

fn qemu(args: &[&str]) -> String {
    let out = Command::new("qemu-img").args(args).output().expect("qemu-img runs");
    assert!(out.status.success(), "qemu-img {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    Command::new("cmp").arg("-s").arg(a).arg(b).status().unwrap().success()
}

/// Reads a file out of the ext4 partition of a raw disk, without mounting anything.
fn debugfs(raw: &Path, request: &str, scratch: &Path) -> String {
    let head = std::fs::read(raw).unwrap();
    let (offset, len) = image::find_linux_partition(&head[..512]).expect("an MBR with a Linux partition");
    let part = scratch.join("part.ext4");
    std::fs::write(&part, &head[offset as usize..(offset + len) as usize]).unwrap();
    let out = Command::new("debugfs").args(["-R", request]).arg(&part).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_boot_export_and_import_an_image() {
    if !prerequisites() {
        return;
    }
    let Setup { base, tmp, key, public } = setup().await;
    let pid = std::process::id();

    // Provision a server, stop it, capture its disk as a layer.
    let (a, fwd_a, ssh_a) = boot(spec(&format!("ia{pid}"), tmp.path().join("a"), vec![base.clone()], &public), &key, None).await;
    let a = tokio::task::spawn_blocking(move || {
        ssh_a.ok("echo provisioned > /etc/cce-provisioned && rm /etc/motd && mkdir -p /opt/kit && echo x > /opt/kit/f");
        a.stop(Duration::from_secs(30)).expect("stop");
        a
    })
    .await
    .unwrap();
    drop(fwd_a);
    let layer = tmp.path().join("layers/a");
    image::copy_tree(&a.disk(), &layer).expect("capture");
    tokio::task::spawn_blocking(move || a.delete().expect("delete a")).await.unwrap();

    // A new server boots from the captured image.
    let layers = vec![layer.clone(), base.clone()];
    let (b, fwd_b, ssh_b) = boot(spec(&format!("ib{pid}"), tmp.path().join("b"), layers.clone(), &public), &key, None).await;
    tokio::task::spawn_blocking(move || {
        assert_eq!(ssh_b.ok("cat /etc/cce-provisioned"), "provisioned");
        assert_ne!(ssh_b.run("test -e /etc/motd").0, 0, "a file deleted before capture came back");
        assert_eq!(ssh_b.ok("stat -c %U /etc/cce-provisioned"), "root");
        b.delete().expect("delete b");
    })
    .await
    .unwrap();
    drop(fwd_b);

    // Export in every format and read the provisioned file back.
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let work = tmp.path().join("work");
    for (fmt, name) in [(ExportFormat::Raw, "img.raw"), (ExportFormat::Qcow2, "img.qcow2"), (ExportFormat::Vhd, "img.vhd"), (ExportFormat::Tar, "img.tar")] {
        image::export(&layers, fmt, &out.join(name), &work).unwrap_or_else(|e| panic!("export {name}: {e}"));
    }
    let raw = out.join("img.raw");
    let cat = debugfs(&raw, "cat /etc/cce-provisioned", &work);
    assert!(cat.contains("provisioned"), "{cat}");
    let stat = debugfs(&raw, "stat /etc/cce-provisioned", &work);
    assert!(stat.contains("User:     0"), "owner not shifted back: {stat}");
    assert!(debugfs(&raw, "stat /etc/motd", &work).contains("File not found"));

    qemu(&["check", out.join("img.qcow2").to_str().unwrap()]);
    let from_qcow2 = work.join("from-qcow2.raw");
    qemu(&["convert", "-O", "raw", out.join("img.qcow2").to_str().unwrap(), from_qcow2.to_str().unwrap()]);
    let provisioned = debugfs(&from_qcow2, "cat /etc/cce-provisioned", &work);
    assert!(provisioned.contains("provisioned"), "{provisioned}");
    // raw → qcow2 → raw and vhd → raw → vhd → raw come back byte for byte.
    let q = work.join("rt.qcow2");
    let raw2 = work.join("rt.raw");
    qemu(&["convert", "-f", "raw", "-O", "qcow2", raw.to_str().unwrap(), q.to_str().unwrap()]);
    qemu(&["convert", "-O", "raw", q.to_str().unwrap(), raw2.to_str().unwrap()]);
    assert!(same_bytes(&raw, &raw2), "raw changed through qcow2");
    let v1 = work.join("v1.raw");
    let v2 = work.join("v2.vhd");
    let v3 = work.join("v3.raw");
    qemu(&["convert", "-f", "vpc", "-O", "raw", out.join("img.vhd").to_str().unwrap(), v1.to_str().unwrap()]);
    qemu(&["convert", "-f", "raw", "-O", "vpc", "-o", "subformat=dynamic,force_size=on", v1.to_str().unwrap(), v2.to_str().unwrap()]);
    qemu(&["convert", "-f", "vpc", "-O", "raw", v2.to_str().unwrap(), v3.to_str().unwrap()]);
    assert!(same_bytes(&v1, &v3), "vhd changed through a round trip");
    assert!(debugfs(&v1, "cat /etc/cce-provisioned", &work).contains("provisioned"));
    let listing = Command::new("tar").args(["--numeric-owner", "-tvf"]).arg(out.join("img.tar")).arg("./etc/cce-provisioned").output().unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains("0/0"), "tar owner: {listing}");

    // The qcow2 imported as a new base image boots.
    let imported = tmp.path().join("layers/imported");
    image::import(&out.join("img.qcow2"), &imported, &work).expect("import");
    let (c, fwd_c, ssh_c) = boot(spec(&format!("ic{pid}"), tmp.path().join("c"), vec![imported], &public), &key, None).await;
    tokio::task::spawn_blocking(move || {
        assert_eq!(ssh_c.ok("cat /etc/cce-provisioned /opt/kit/f"), "provisioned\nx");
        c.delete().expect("delete c");
    })
    .await
    .unwrap();
    drop(fwd_c);
}
