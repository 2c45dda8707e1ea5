//! cloud-init's stand-in in a real sandbox: on an image without cloud-init, `cloud-init status
//! --wait` says done, `clean` removes what cloud-init would, other commands are refused; SSH
//! host keys a hygiene step removed are made again at the next boot; the stand-in never reaches
//! the server's disk; and an image with a cloud-init of its own keeps it. Needs root (under
//! `CI=true` a missing prerequisite fails the test).

mod common;

use std::time::Duration;

use common::{boot, prerequisites, setup, spec, wait_second_boot};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_without_cloud_init_gets_a_stand_in_and_its_own_is_kept() {
    if !prerequisites() {
        return;
    }
    let s = setup().await;
    let (sb, _fwd, ssh) = boot(spec("sb-ci", s.tmp.path().join("ci"), s.base.clone(), &s.public), &s.key, None).await;
    ssh.wait_up(Duration::from_secs(60));

    assert_eq!(ssh.ok("command -v cloud-init"), "/usr/bin/cloud-init");
    assert_eq!(ssh.ok("cloud-init status --wait"), "status: done");
    let json = ssh.ok("cloud-init status --format json");
    let v: serde_json::Value = serde_json::from_str(&json).expect("status json");
    assert_eq!(v["status"], "done", "{json}");
    ssh.ok("mkdir -p /var/lib/cloud/instances/i-1 /var/lib/cloud/seed && touch /var/log/cloud-init.log");
    ssh.ok("cloud-init clean --logs");
    assert_eq!(ssh.ok("ls /var/lib/cloud"), "seed", "clean keeps the seed without --seed");
    assert_ne!(ssh.run("test -e /var/log/cloud-init.log").0, 0, "clean --logs removes the log");
    let (code, out) = ssh.run("cloud-init single --name ssh");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not available in a local-cloud sandbox"), "{out}");

    // A hygiene step removes the host keys (it may: cloud-init is there); the next boot makes them.
    // (In one command: sshd reads its host keys for every new connection.)
    ssh.ok("rm -f /etc/ssh/ssh_host_* && systemd-run --no-block systemctl reboot");
    wait_second_boot(&sb, &ssh);
    ssh.ok("test -s /etc/ssh/ssh_host_ed25519_key");

    let disk = sb.disk();
    tokio::task::spawn_blocking(move || {
        sb.stop(Duration::from_secs(30)).expect("stop");
        assert!(!disk.join("usr/bin/cloud-init").exists(), "the stand-in reached the server's disk");
        sb.delete().expect("delete");
    })
    .await
    .unwrap();

    // An image with its own cloud-init keeps it.
    use std::os::unix::fs::PermissionsExt as _;
    let own = s.tmp.path().join("own-layer");
    std::fs::create_dir_all(own.join("usr/bin")).unwrap();
    std::fs::write(own.join("usr/bin/cloud-init"), "#!/bin/sh\necho the-image-own-cloud-init\n").unwrap();
    std::fs::set_permissions(own.join("usr/bin/cloud-init"), std::fs::Permissions::from_mode(0o755)).unwrap();
    for d in [own.clone(), own.join("usr"), own.join("usr/bin")] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut with_own = spec("sb-ci-own", s.tmp.path().join("ci-own"), s.base.clone(), &s.public);
    with_own.layers.insert(0, own);
    let (sb, _fwd, ssh) = boot(with_own, &s.key, None).await;
    ssh.wait_up(Duration::from_secs(60));
    assert_eq!(ssh.ok("cloud-init --version"), "the-image-own-cloud-init");
    tokio::task::spawn_blocking(move || sb.delete().expect("delete")).await.unwrap();
}
