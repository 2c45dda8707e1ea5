//! `make image` as a newcomer runs it (`dev/image.sh`, what the Makefile calls): with some of
//! the seven cloud variables set it names the missing ones and stops; with none set it says
//! first that it builds on the embedded local cloud, builds the kit's `turbo-node.pkr.hcl`
//! there, and writes the image as a qcow2 disk that passes `qemu-img check`. Needs root and
//! sandboxes for the local build (under `CI=true` a missing prerequisite fails the test).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{BIN, both, require, sandboxes_ok, searchable_dir};

const CLOUD_VARIABLES: [&str; 7] = [
    "REGION_NAME",
    "IAM_ACCESS_KEY",
    "IAM_SECRET_KEY",
    "ECS_VPC_ID",
    "ECS_NETWORK_ID",
    "ECS_SECGRP_ID",
    "CCE_SOURCE_IMAGE_ID",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A copy of the kit (template and the folders it reads) in a folder of its own, so the build's
/// outputs land there and not in the checkout.
fn kit_copy() -> tempfile::TempDir {
    let dir = searchable_dir("cce-make-image-");
    for folder in ["templates", "scripts", "user-scripts", "user-packages"] {
        let status = Command::new("cp")
            .arg("-a")
            .arg(repo_root().join(folder))
            .arg(dir.path())
            .status()
            .expect("cp runs");
        assert!(status.success(), "copying {folder}");
    }
    dir
}

/// `dev/image.sh` with the test's binary (not rebuilt), in `dir`, with the cloud variables
/// removed and then `vars` set, and the local cloud's state and the journals under `dir`.
fn make_image(dir: &Path, vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join("dev/image.sh"))
        .arg(BIN)
        .arg("templates/turbo-node.pkr.hcl")
        .current_dir(dir)
        .env("BUILD_BINARY", "0")
        .env("CCE_LOCALCLOUD_STATE", dir.join("localcloud"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("OUTPUT_DIR", dir.join("output"))
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("PACKER_LOG")
        .stdin(Stdio::null());
    for v in CLOUD_VARIABLES {
        cmd.env_remove(v);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("bash runs dev/image.sh")
}

#[test]
fn some_cloud_variables_set_names_the_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let o = make_image(
        dir.path(),
        &[("REGION_NAME", "ru-moscow-1"), ("ECS_VPC_ID", "vpc-1")],
    );
    let out = both(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("these are missing: IAM_ACCESS_KEY IAM_SECRET_KEY ECS_NETWORK_ID ECS_SECGRP_ID CCE_SOURCE_IMAGE_ID"),
        "{out}"
    );
    assert!(!dir.path().join("output").exists(), "nothing was built");
}

#[test]
fn no_cloud_variables_builds_on_the_local_cloud_and_writes_a_checked_qcow2() {
    if !common::is_root() && !require(&["root (the local cloud's servers are sandboxes)"]) {
        return;
    }
    if !sandboxes_ok() {
        return;
    }
    let kit = kit_copy();
    let o = make_image(kit.path(), &[]);
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let out = both(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        stdout.starts_with("make image: none of REGION_NAME IAM_ACCESS_KEY IAM_SECRET_KEY ECS_VPC_ID ECS_NETWORK_ID ECS_SECGRP_ID CCE_SOURCE_IMAGE_ID is set: building on the embedded local cloud\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("==> Builds finished. The artifacts of successful builds are:"),
        "{out}"
    );
    let image_id = stdout
        .lines()
        .find_map(|l| l.split("An image was created: ").nth(1))
        .unwrap_or_else(|| panic!("no image id in\n{out}"))
        .trim()
        .to_string();
    let disk = kit.path().join("output").join(format!("{image_id}.qcow2"));
    assert!(disk.is_file(), "{} missing\n{out}", disk.display());
    assert!(
        stdout.contains("No errors were found on the image."),
        "{out}"
    );
    // The disk is checked again here, independently of the script.
    let info = Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(&disk)
        .output()
        .expect("qemu-img runs");
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).expect("qemu-img json");
    assert_eq!(info["format"], "qcow2", "{info}");
    assert!(info["virtual-size"].as_u64().unwrap_or(0) > 0, "{info}");
    // The build left nothing running behind it.
    let builds = Command::new(BIN)
        .args(["builds", "--json"])
        .env("XDG_STATE_HOME", kit.path().join("state"))
        .output()
        .expect("builds runs");
    let builds = String::from_utf8_lossy(&builds.stdout).into_owned();
    assert!(
        builds.contains("\"status\":\"succeeded\"")
            && builds.contains("\"outstanding\":0")
            && builds.contains(&image_id),
        "{builds}"
    );
}
