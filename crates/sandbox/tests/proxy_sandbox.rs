//! The package proxy from inside a real sandbox: apt (through `apt-helper download-file`) and a
//! raw request through `http_proxy` reach an allowed origin on a host loopback address; a host
//! not on the list gets 403, for a GET and for a CONNECT; a direct connection to the origin
//! fails (no route out); systemd services see the proxy too; the listener follows the namespace
//! made anew by a reboot; the settings are in neither the captured disk nor an export; and a
//! server without a proxy has neither listener nor settings. Needs root (under `CI=true` a
//! missing prerequisite fails the test).

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cce_sandbox::image::{self, ExportFormat};
use cce_sandbox::{AllowList, PackageProxy};
use common::origin::{HELLO, hello_origin, http_origin};
use common::{Setup, Ssh, boot, prerequisites, setup, spec, wait_second_boot};

/// A raw HTTP exchange with the proxy inside the server, with bash's `/dev/tcp`.
fn through_proxy(ssh: &Ssh, request: &str) -> String {
    ssh.ok(&format!(
        "exec 3<>/dev/tcp/127.0.0.1/3128 && printf '{request}' >&3 && timeout 10 cat <&3"
    ))
}

fn settings_paths() -> Vec<&'static str> {
    cce_sandbox::proxy::settings_files(3128)
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

fn tar_listing(tar: &Path) -> String {
    let out = Command::new("tar").arg("-tf").arg(tar).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_reach_listed_hosts_through_the_package_proxy_only() {
    if !prerequisites() {
        return;
    }
    let Setup { base, tmp, key, public } = setup().await;
    let allowed = hello_origin([127, 0, 0, 77]).await;
    let unlisted = hello_origin([127, 0, 0, 78]).await;
    let proxy = PackageProxy::new(
        AllowList::parse(&allowed.to_string()).unwrap(),
        tokio::runtime::Handle::current(),
    );

    let id = format!("px{}", std::process::id());
    let dir = tmp.path().join("server");
    let spec = spec(&id, dir.clone(), base.clone(), &public);
    let (sb, fwd, ssh) = boot(spec, &key, Some(proxy)).await;
    assert_eq!(
        sb.package_proxy_address(),
        Some("127.0.0.1:3128".parse().unwrap())
    );

    let (ssh, sb) = tokio::task::spawn_blocking(move || {
        ssh.wait_up(Duration::from_secs(30));
        // SSH sessions and systemd services are pointed at the proxy.
        assert_eq!(ssh.ok("echo $http_proxy $https_proxy"), "http://127.0.0.1:3128 http://127.0.0.1:3128");
        assert_eq!(ssh.ok("systemd-run --quiet --wait --pipe /bin/sh -c 'echo $http_proxy'"), "http://127.0.0.1:3128");

        // apt reaches the allowed origin through its own proxy setting.
        let url = format!("http://{allowed}/pool/hello.txt");
        ssh.ok(&format!("env -u http_proxy -u https_proxy /usr/lib/apt/apt-helper download-file {url} /root/hello.txt"));
        assert_eq!(ssh.ok("cat /root/hello.txt"), HELLO);

        // A raw GET through the proxy: the listed host answers, another is refused with 403.
        let got = through_proxy(&ssh, &format!("GET {url} HTTP/1.1\\r\\nHost: {allowed}\\r\\n\\r\\n"));
        assert!(got.starts_with("HTTP/1.1 200 OK") && got.ends_with(HELLO), "{got}");
        let refused = through_proxy(&ssh, &format!("GET http://{unlisted}/pool/hello.txt HTTP/1.1\\r\\n\\r\\n"));
        assert!(refused.starts_with("HTTP/1.1 403 Forbidden"), "{refused}");
        assert!(refused.contains(&format!("{unlisted} is not on the local cloud's package allow-list")), "{refused}");
        let refused = through_proxy(&ssh, "CONNECT deb.debian.org.evil.example:443 HTTP/1.1\\r\\n\\r\\n");
        assert!(refused.starts_with("HTTP/1.1 403 Forbidden"), "{refused}");

        // No route out: the origin's address is not reachable directly.
        let (code, out) = ssh.run(&format!("timeout 5 bash -c 'exec 3<>/dev/tcp/{}/{}'", allowed.ip(), allowed.port()));
        assert_ne!(code, 0, "a direct connection to the host must fail: {out}");

        // The listener follows the namespace made anew by a reboot.
        let _ = ssh.run("systemctl reboot");
        wait_second_boot(&sb, &ssh);
        ssh.ok(&format!("/usr/lib/apt/apt-helper download-file {url} /root/again.txt"));
        assert_eq!(ssh.ok("cat /root/again.txt"), HELLO);
        sb.stop(Duration::from_secs(30)).expect("stop");
        (ssh, sb)
    })
    .await
    .unwrap();

    // The settings are not on the server's disk (what a capture copies) nor in an export, while
    // the provisioned file is.
    let disk = sb.disk();
    assert!(
        disk.join("root/hello.txt").is_file(),
        "the provisioned file is on the disk"
    );
    for path in settings_paths() {
        assert!(!disk.join(path).exists(), "{path} is on the server's disk");
    }
    let layer = tmp.path().join("captured");
    image::copy_tree(&disk, &layer).expect("capture");
    let tar = tmp.path().join("export.tar");
    let work = tmp.path().join("work");
    let layers = vec![layer.clone(), base.clone()];
    tokio::task::spawn_blocking({
        let tar = tar.clone();
        move || image::export(&layers, ExportFormat::Tar, &tar, &work).expect("export")
    })
    .await
    .unwrap();
    let listing = tar_listing(&tar);
    assert!(
        listing
            .lines()
            .any(|l| l.trim_start_matches("./") == "root/hello.txt"),
        "the export holds the provisioned file"
    );
    for path in settings_paths() {
        assert!(
            !listing.lines().any(|l| l.trim_start_matches("./") == path),
            "{path} is in the export"
        );
    }

    // Without a proxy the next boot has no listener and no settings.
    let sb = tokio::task::spawn_blocking(move || {
        let mut sb = sb;
        sb.set_package_proxy(None);
        sb.start().expect("boot without a proxy");
        assert_eq!(sb.package_proxy_address(), None);
        assert!(
            sb.connect(3128, Duration::from_secs(2)).is_err(),
            "nothing listens on 3128 inside"
        );
        ssh.wait_up(Duration::from_secs(30));
        for path in settings_paths() {
            let (code, _) = ssh.run(&format!("test -e /{path}"));
            assert_ne!(code, 0, "/{path} is still there without a proxy");
        }
        assert_eq!(ssh.ok("echo \"[$http_proxy]\""), "[]");
        sb
    })
    .await
    .unwrap();
    drop(fwd);
    tokio::task::spawn_blocking(move || sb.delete().expect("delete"))
        .await
        .unwrap();
}

/// An origin on a host loopback address serving the files of `dir`; 404 for anything else.
async fn file_origin(ip: [u8; 4], dir: PathBuf) -> SocketAddr {
    http_origin(ip, move |head| {
        let path = head
            .split(' ')
            .nth(1)
            .unwrap_or("/")
            .trim_start_matches('/')
            .to_string();
        let file = (!path.contains(".."))
            .then(|| std::fs::read(dir.join(&path)).ok())
            .flatten();
        match file {
            Some(b) => ("200 OK", b),
            None => ("404 Not Found", b"no such file\n".to_vec()),
        }
    })
    .await
}

fn sha256(file: &Path) -> String {
    let out = Command::new("sha256sum").arg(file).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// A flat apt repository with one package, `cce-hello`, holding `/usr/share/cce-hello/hello.txt`.
fn fake_repository(dir: &Path) -> PathBuf {
    let pkg = dir.join("pkg");
    std::fs::create_dir_all(pkg.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(pkg.join("usr/share/cce-hello")).unwrap();
    std::fs::write(
        pkg.join("DEBIAN/control"),
        "Package: cce-hello\nVersion: 1.0\nArchitecture: all\nMaintainer: test <test@example.invalid>\nDescription: a package of the test mirror\n",
    )
    .unwrap();
    std::fs::write(
        pkg.join("usr/share/cce-hello/hello.txt"),
        format!("{HELLO}\n"),
    )
    .unwrap();
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let deb = repo.join("cce-hello_1.0_all.deb");
    let out = Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&pkg)
        .arg(&deb)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dpkg-deb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let packages = format!(
        "Package: cce-hello\nVersion: 1.0\nArchitecture: all\nMaintainer: test <test@example.invalid>\nFilename: ./cce-hello_1.0_all.deb\nSize: {}\nSHA256: {}\nDescription: a package of the test mirror\n",
        std::fs::metadata(&deb).unwrap().len(),
        sha256(&deb)
    );
    std::fs::write(repo.join("Packages"), &packages).unwrap();
    let release = format!(
        "Origin: cce-test\nLabel: cce-test\nSuite: stable\nCodename: stable\nDate: Thu, 01 Jan 2026 00:00:00 UTC\nSHA256:\n {} {} Packages\n",
        sha256(&repo.join("Packages")),
        packages.len()
    );
    std::fs::write(repo.join("Release"), release).unwrap();
    repo
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apt_installs_a_package_from_a_listed_repository() {
    if !prerequisites() {
        return;
    }
    if Command::new("dpkg-deb").arg("--version").output().is_err() {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "CI=true and dpkg-deb is missing"
        );
        eprintln!("skipping: dpkg-deb is missing");
        return;
    }
    let Setup { base, tmp, key, public } = setup().await;
    let mirror = file_origin([127, 0, 0, 81], fake_repository(tmp.path())).await;
    let proxy = PackageProxy::new(
        AllowList::parse(&mirror.to_string()).unwrap(),
        tokio::runtime::Handle::current(),
    );
    let dir = tmp.path().join("server");
    let spec = spec(&format!("pa{}", std::process::id()), dir, base, &public);
    let (sb, fwd, ssh) = boot(spec, &key, Some(proxy)).await;
    let installed = tokio::task::spawn_blocking(move || {
        ssh.wait_up(Duration::from_secs(30));
        // Only the test repository: the image's own sources name a host not on this list.
        ssh.ok(&format!("echo 'deb [trusted=yes] http://{mirror}/ ./' > /root/cce-test.list"));
        let apt = "apt-get -q -o Dir::Etc::SourceList=/root/cce-test.list -o Dir::Etc::SourceParts=/nonexistent";
        ssh.ok(&format!("env -u http_proxy -u https_proxy {apt} update"));
        // dpkg renames each new folder into place: this needs the overlay's user xattrs.
        ssh.ok(&format!("DEBIAN_FRONTEND=noninteractive {apt} install -y cce-hello"));
        let installed = ssh.ok("cat /usr/share/cce-hello/hello.txt");
        sb.stop(Duration::from_secs(30)).expect("stop");
        (installed, sb)
    })
    .await
    .unwrap();
    let (installed, sb) = installed;
    assert_eq!(installed, HELLO);
    assert!(
        sb.disk().join("usr/share/cce-hello/hello.txt").is_file(),
        "the package is on the server's disk"
    );
    drop(fwd);
    tokio::task::spawn_blocking(move || sb.delete().expect("delete"))
        .await
        .unwrap();
}

/// Needs the internet: `apt-get update` and a download from this machine's real Debian mirror,
/// with the default allow-list. Run by hand: `cargo test -p cce-sandbox --test proxy_sandbox --
/// --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the internet"]
async fn apt_updates_from_the_real_debian_mirror() {
    if !prerequisites() {
        return;
    }
    let Setup { base, tmp, key, public } = setup().await;
    let proxy = PackageProxy::new(AllowList::host_mirrors(), tokio::runtime::Handle::current());
    let dir = tmp.path().join("server");
    let spec = spec(&format!("pm{}", std::process::id()), dir, base, &public);
    let (sb, fwd, ssh) = boot(spec, &key, Some(proxy)).await;
    tokio::task::spawn_blocking(move || {
        ssh.wait_up(Duration::from_secs(30));
        ssh.ok("apt-get -q update");
        ssh.ok("cd /root && apt-get -q download hello && ls /root/hello_*.deb");
    })
    .await
    .unwrap();
    drop(fwd);
    tokio::task::spawn_blocking(move || sb.delete().expect("delete")).await.unwrap();
}
