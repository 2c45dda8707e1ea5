//! `localcloud import-image` and `localcloud export` as processes over a state directory: a root
//! tarball imported becomes an active private image the API lists, and exports of it (by id as a
//! tarball, by name as qcow2) hold its files; an unknown image is refused with what to give.
//! Needs root and the binary built; under `CI=true` either missing fails the test.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use cce_localcloud::{Config, LocalCloud, Service};
use common::Client;

fn binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("cce-image-builder");
    bin.exists().then_some(bin)
}

fn prerequisites() -> Option<PathBuf> {
    let missing = match (cce_sandbox::host_supports_sandboxes(), binary()) {
        (Err(e), _) => e.to_string(),
        (Ok(()), None) => "cce-image-builder is not built (run `cargo build --workspace`)".into(),
        (Ok(()), Some(bin)) => return Some(bin),
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and the image commands cannot run: {missing}");
    }
    eprintln!("skipping: {missing}");
    None
}

fn run(bin: &Path, args: &[&str], state: &Path) -> (bool, String, String) {
    let out = Command::new(bin).arg("localcloud").args(args).arg("--state").arg(state).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_images_are_listed_and_exported() {
    let Some(bin) = prerequisites() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let tree = tmp.path().join("tree");
    std::fs::create_dir_all(tree.join("root")).unwrap();
    std::fs::create_dir_all(tree.join("etc")).unwrap();
    std::fs::write(tree.join("root/hello"), "from the tarball\n").unwrap();
    std::fs::write(tree.join("etc/hostname"), "imported\n").unwrap();
    let tarball = tmp.path().join("base.tar");
    assert!(Command::new("tar").arg("-C").arg(&tree).arg("-cf").arg(&tarball).arg(".").status().unwrap().success());

    let (ok, id, err) = run(&bin, &["import-image", tarball.to_str().unwrap(), "--name", "imported-base"], &state);
    assert!(ok, "{err}");
    assert_eq!(id.len(), 36, "prints the image id: {id}");

    let out_tar = tmp.path().join("out.tar");
    let (ok, _, err) = run(&bin, &["export", &id, "--format", "tar", "-o", out_tar.to_str().unwrap()], &state);
    assert!(ok, "{err}");
    let listing = Command::new("tar").arg("-tf").arg(&out_tar).output().unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.lines().any(|l| l.trim_start_matches("./") == "root/hello"), "{listing}");
    let hello = Command::new("tar").arg("-xOf").arg(&out_tar).arg("./root/hello").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&hello.stdout), "from the tarball\n");

    let out_qcow = tmp.path().join("out.qcow2");
    let (ok, _, err) = run(&bin, &["export", "imported-base", "--format", "qcow2", "-o", out_qcow.to_str().unwrap()], &state);
    assert!(ok, "{err}");
    let info = Command::new("qemu-img").args(["info", "--output=json"]).arg(&out_qcow).output().unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).expect("qemu-img reads the export");
    assert_eq!(info["format"], "qcow2");

    let (ok, _, err) = run(&bin, &["export", "no-such-image", "--format", "raw", "-o", "/dev/null"], &state);
    assert!(!ok);
    assert!(err.contains("no image `no-such-image`") && err.contains("id or name"), "{err}");

    // The local cloud on that state lists the imported image as active.
    let h = LocalCloud::start(Config::new(&state)).await.expect("local cloud starts");
    let c = Client::new(&h);
    let l = c.get_query(&h, Service::Ims, "/v2/cloudimages", &[("name", "imported-base")]).await;
    assert_eq!(l.status, 200, "{}", l.body);
    assert_eq!(l.body["images"][0]["id"], id.as_str());
    assert_eq!(l.body["images"][0]["status"], "active");
    h.shutdown().await;
}
