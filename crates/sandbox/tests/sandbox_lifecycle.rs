//! A sandbox through the real path: debootstrapped Debian, systemd as init, real OpenSSH inside
//! reached through the loopback forwarder with the real `ssh` client. Needs root; under `CI=true`
//! a missing prerequisite fails the test instead of skipping it.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Setup, boot, prerequisites, setup, wait_second_boot};

use cce_sandbox::{SandboxSpec, SandboxState, DOCUMENT_SYSCTLS};

fn host_value(key: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{}", key.replace('.', "/"))).map(|s| s.trim().to_string()).unwrap_or_default()
}

/// Values for each of the document's eight parameters that differ from any default.
fn new_values(key: &str) -> (u64, u64) {
    let base = match key {
        "net.ipv4.tcp_keepalive_time" => 600,
        "net.ipv4.tcp_max_tw_buckets" => 5000,
        "net.core.somaxconn" => 1024,
        "fs.inotify.max_user_instances" => 256,
        "fs.inotify.max_user_watches" => 4242,
        "net.core.netdev_max_backlog" => 2000,
        _ => 8_388_608,
    };
    (base, base + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_boots_isolates_kernel_parameters_reboots_and_is_deleted() {
    if !prerequisites() {
        return;
    }
    let Setup { base: rootfs, tmp, key, public } = setup().await;
    let host_marker = PathBuf::from(format!("/var/tmp/cce-host-marker-{}", std::process::id()));
    std::fs::write(&host_marker, "host").unwrap();
    let host_service = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host_port = host_service.local_addr().unwrap().port();
    let id = format!("t{}", std::process::id());
    let spec = SandboxSpec {
        id: id.clone(),
        hostname: "cce-test-node".into(),
        dir: tmp.path().join("server"),
        layers: vec![rootfs],
        authorized_keys: Some(public),
        user_data: Some(b"#!/bin/sh\necho from-user-data > /etc/cce-user-data-ran\n".to_vec()),
        admin_pass: None,
        data_disks: Vec::new(),
        boot_timeout: Duration::from_secs(60),
    };
    let (sb, fwd, ssh) = boot(spec, &key, None).await;

    let host_before: Vec<(String, String)> = DOCUMENT_SYSCTLS
        .iter()
        .chain(["vm.swappiness", "kernel.pid_max"].iter())
        .map(|k| (k.to_string(), host_value(k)))
        .collect();
    let host_hostname = host_value("kernel.hostname");

    let marker_inside = host_marker.clone();
    let checks = tokio::task::spawn_blocking(move || {
        assert_eq!(ssh.ok("hostname"), "cce-test-node");
        assert_eq!(ssh.ok("cat /proc/1/comm"), "systemd");
        // Boot finishes as on a server: no unit failed (a script's usual wait for the boot).
        let (code, out) = ssh.run("timeout 60 systemctl is-system-running --wait");
        assert_eq!((code, out.as_str()), (0, "running"), "{}", ssh.run("systemctl --failed --no-pager").1);
        // The user data ran on first boot, before sshd let us in.
        assert_eq!(ssh.ok("cat /etc/cce-user-data-ran"), "from-user-data");
        // Root inside is not root on the host.
        assert_eq!(ssh.ok("awk 'NR==1{print $2}' /proc/self/uid_map"), "100000");
        // No host block device is visible, and none can be made.
        assert_eq!(ssh.ok("ls /dev | grep -cE '^(vd|sd|nvme|loop|dm-)' || true"), "0");
        let (code, out) = ssh.run("mknod /root/sda b 8 0");
        assert_ne!(code, 0, "mknod of a block device succeeded: {out}");
        // A fresh /proc does not open a way to the host's kernel parameters.
        let (code, out) = ssh.run("mkdir -p /root/p2 && mount -t proc proc /root/p2 && echo 61 > /root/p2/sys/vm/swappiness");
        assert_ne!(code, 0, "writing vm.swappiness through a fresh /proc succeeded: {out}");
        // The host's files and services are out of reach; the only interface is loopback.
        let (code, _) = ssh.run(&format!("test -e {}", marker_inside.display()));
        assert_ne!(code, 0, "a host file is visible inside");
        let (code, _) = ssh.run(&format!("timeout 3 bash -c 'echo > /dev/tcp/127.0.0.1/{host_port}'"));
        assert_ne!(code, 0, "a host service is reachable from inside");
        assert_eq!(ssh.ok("ip -o link | awk -F': ' '{print $2}'"), "lo");
        let inside_initial: Vec<String> = DOCUMENT_SYSCTLS.iter().map(|k| ssh.ok(&format!("sysctl -n {k}"))).collect();
        for key in DOCUMENT_SYSCTLS {
            let (a, b) = new_values(key);
            ssh.ok(&format!("sysctl -w {key}={a}"));
            assert_eq!(ssh.ok(&format!("sysctl -n {key}")), a.to_string(), "{key} after sysctl -w");
            ssh.ok(&format!("echo {b} > /proc/sys/{}", key.replace('.', "/")));
            assert_eq!(ssh.ok(&format!("cat /proc/sys/{}", key.replace('.', "/"))), b.to_string(), "{key} after a direct write");
        }
        ssh.ok("sysctl -w vm.swappiness=12 && sysctl -w kernel.pid_max=65536");
        ssh.ok("echo kept > /etc/cce-marker");
        (ssh, inside_initial)
    })
    .await
    .unwrap();
    let (ssh, inside_initial) = checks;
    for key in DOCUMENT_SYSCTLS {
        assert_eq!(sb.sysctl(key).unwrap(), new_values(key).1.to_string(), "{key} seen from the host side");
    }
    for (k, v) in &host_before {
        assert_eq!(&host_value(k), v, "host {k} changed");
    }
    assert_eq!(host_value("kernel.hostname"), host_hostname);

    // A reboot from inside: the supervisor boots it again; the disk is kept, kernel parameters reset.
    let (ssh, mut sb) = tokio::task::spawn_blocking(move || {
        let _ = ssh.run("systemctl reboot");
        wait_second_boot(&sb, &ssh);
        assert_eq!(ssh.ok("cat /etc/cce-marker"), "kept");
        // User data runs once per instance, not on every boot.
        assert_eq!(ssh.ok("grep -c 'user data exited' /var/log/cce-user-data.log"), "1");
        for (key, initial) in DOCUMENT_SYSCTLS.iter().zip(&inside_initial) {
            assert_eq!(&ssh.ok(&format!("sysctl -n {key}")), initial, "{key} after reboot");
        }
        (ssh, sb)
    })
    .await
    .unwrap();
    for (k, v) in &host_before {
        assert_eq!(&host_value(k), v, "host {k} changed after reboot");
    }

    // Stop ends every process and keeps the disk; start brings it back; delete removes all.
    let netns = sb.netns();
    tokio::task::spawn_blocking(move || {
        sb.stop(Duration::from_secs(30)).expect("stop");
        assert_eq!(sb.state(), SandboxState::Stopped);
        assert!(!Path::new(&format!("/run/netns/{netns}")).exists(), "netns left after stop");
        assert!(sb.disk().join("etc/cce-marker").exists(), "disk lost on stop");
        sb.start().expect("start after stop");
        ssh.wait_up(Duration::from_secs(30));
        assert_eq!(ssh.ok("cat /etc/cce-marker"), "kept");
        let dir = sb.disk().parent().unwrap().to_path_buf();
        sb.delete().expect("delete");
        assert!(!dir.exists(), "server folder left after delete");
        assert!(!Path::new(&format!("/run/netns/{netns}")).exists(), "netns left after delete");
    })
    .await
    .unwrap();
    drop(fwd);
    drop(host_service);
    let _ = std::fs::remove_file(host_marker);
}
