//! Kernel modules inside a real sandbox: `modprobe` of a module the host kernel has built in (or
//! already loaded) succeeds and `modinfo` shows it built in, `modprobe` of one it lacks fails as
//! on a node, the list lives on a tmpfs (a write there never reaches the server's disk), the
//! image's merged-/usr `lib` link is left as it is, and after a reboot the list is back. Needs
//! root (under `CI=true` a missing prerequisite fails the test).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{boot, prerequisites, setup, spec, wait_second_boot};

/// Every path under `dir`, relative to it.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_modules_probe_and_missing_ones_fail() {
    if !prerequisites() {
        return;
    }
    let s = setup().await;
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap()
        .trim()
        .to_string();
    let builtin = cce_sandbox::modules::builtin_modules(Path::new("/"), &release);
    let dir = s.tmp.path().join("mods");
    let (sb, _fwd, ssh) = boot(
        spec("sb-mods", dir, s.base.clone(), &s.public),
        &s.key,
        None,
    )
    .await;
    ssh.wait_up(Duration::from_secs(60));

    // overlayfs is in every kernel that runs sandboxes, built in or loaded.
    ssh.ok("modprobe overlay");
    for name in builtin.iter().take(5) {
        ssh.ok(&format!("modprobe {name}"));
        assert_eq!(
            ssh.ok(&format!("modinfo -F filename {name}")),
            "(builtin)",
            "{name}"
        );
    }
    if std::path::Path::new("/proc/sys/net/bridge").exists() {
        ssh.ok("modprobe br_netfilter && test -e /proc/sys/net/bridge/bridge-nf-call-iptables");
    }
    let (code, out) = ssh.run("modprobe cce_no_such_module");
    assert_ne!(code, 0, "a module the kernel lacks must fail: {out}");
    assert!(out.contains("not found"), "{out}");

    // The image's merged-/usr link stays a link; the list is a tmpfs of the sandbox's.
    assert_eq!(ssh.ok("readlink /lib"), "usr/lib");
    assert_eq!(
        ssh.ok("findmnt -n -o FSTYPE /lib/modules/$(uname -r)"),
        "tmpfs"
    );
    ssh.ok("echo mine > /lib/modules/$(uname -r)/written-by-a-script");

    ssh.ok("systemd-run --no-block systemctl reboot");
    wait_second_boot(&sb, &ssh);
    ssh.ok("modprobe overlay");
    assert!(
        ssh.run("test -e /lib/modules/$(uname -r)/written-by-a-script")
            .0
            != 0,
        "a tmpfs write survived a reboot"
    );

    let disk = sb.disk();
    tokio::task::spawn_blocking(move || {
        sb.stop(Duration::from_secs(30)).expect("stop");
        let written: Vec<String> = tree(&disk)
            .into_iter()
            .filter(|p| p.contains("modules"))
            .collect();
        assert!(
            written.is_empty(),
            "the module list reached the server's disk: {written:?}"
        );
        sb.delete().expect("delete");
    })
    .await
    .unwrap();
}
