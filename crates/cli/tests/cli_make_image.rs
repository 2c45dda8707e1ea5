//! `make image` as a newcomer runs it (`dev/image.sh`, what the Makefile calls): with some of
//! the seven cloud variables set it names the missing ones and stops; with none set it says
//! first that it builds on the embedded local cloud, builds the kit's `turbo-node.pkr.hcl`
//! there, and writes the image as a qcow2 disk that passes `qemu-img check`; with all seven set it
//! builds on the cloud they name as a plain user with nothing but bash on PATH. Needs root and
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

/// The seven variables set: `make image` builds the kit's template on "the real cloud" (here a
/// local cloud standing in for it through `CCE_ENDPOINTS_FILE`, with the keys, VPC, subnet,
/// security group and CCE base image a user would take from the console), as an unprivileged
/// user whose PATH holds nothing but bash: no root, apt, Packer or qemu on that path.
#[test]
fn all_seven_variables_build_on_the_cloud_as_a_plain_user_without_packer_or_qemu() {
    if !common::is_root() && !require(&["root (to start the stand-in cloud's sandboxes)"]) {
        return;
    }
    if !sandboxes_ok() {
        return;
    }
    use std::os::unix::fs::PermissionsExt as _;
    use std::sync::Arc;
    let kit = kit_copy();
    let cloud_dir = kit.path().join("cloud");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (ak, sk) = ("KITACCESSKEY00000001", "kit-secret-key-0000001");
    let handle = rt.block_on(async {
        let backend = cce_localcloud::SandboxBackend::new(
            cce_localcloud::SandboxConfig::new(&cloud_dir, |k| std::env::var(k).ok()),
            tokio::runtime::Handle::current(),
        );
        let mut config = cce_localcloud::Config::new(&cloud_dir);
        config.access_key = Some(ak.into());
        config.secret_key = Some(sk.into());
        cce_localcloud::LocalCloud::start_with_backend(config, Arc::new(backend))
            .await
            .expect("local cloud starts")
    });
    // What the user reads off the console: the network, the group and the CCE base image.
    let client = common::local_client(&handle);
    let (vpc, subnet, group, base_image) = rt.block_on(async {
        let s = client.list_subnets(None).await.expect("subnets").into_iter().next().expect("a subnet");
        let g = client
            .list_security_groups()
            .await
            .expect("groups")
            .into_iter()
            .find(|g| g.name == "default")
            .expect("the default group");
        let q = cce_cloud::models::ImageQuery {
            name: Some("Debian 12 CCE node base (local sandbox rootfs)".into()),
            ..Default::default()
        };
        let image = client.list_images(&q).await.expect("images").into_iter().next().expect("the base image");
        (s.vpc_id, s.id, g.id, image.id)
    });
    let endpoints = kit.path().join("endpoints.json");
    std::fs::write(&endpoints, handle.ready_line()).unwrap();
    // A PATH with bash alone: anything else the path needed would fail to start.
    let path_dir = kit.path().join("path");
    std::fs::create_dir(&path_dir).unwrap();
    std::os::unix::fs::symlink("/bin/bash", path_dir.join("bash")).unwrap();
    // The user owns the kit; the test's binary and dev/image.sh are readable by all.
    let status = Command::new("chown").args(["-R", "65534:65534"]).arg(kit.path()).status().expect("chown runs");
    assert!(status.success());
    std::fs::set_permissions(kit.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = Command::new("/usr/bin/setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg("/bin/bash")
        .arg(repo_root().join("dev/image.sh"))
        .arg(BIN)
        .arg("templates/turbo-node.pkr.hcl")
        .current_dir(kit.path())
        .env_clear()
        .env("PATH", &path_dir)
        .env("HOME", kit.path())
        .env("BUILD_BINARY", "0")
        .env("XDG_STATE_HOME", kit.path().join("state"))
        .env("CCE_ENDPOINTS_FILE", &endpoints)
        .env("REGION_NAME", &handle.region)
        .env("IAM_ACCESS_KEY", ak)
        .env("IAM_SECRET_KEY", sk)
        .env("ECS_VPC_ID", &vpc)
        .env("ECS_NETWORK_ID", &subnet)
        .env("ECS_SECGRP_ID", &group)
        .env("CCE_SOURCE_IMAGE_ID", &base_image)
        .stdin(Stdio::null())
        .output()
        .expect("setpriv runs");
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let out = both(&o);
    let leftovers = rt.block_on(async {
        let servers = client.list_servers(&Default::default()).await.expect("servers").servers.len();
        let eips = client.list_eips().await.expect("eips").len();
        let keypairs = client.list_keypairs().await.expect("keypairs").len();
        (servers, eips, keypairs)
    });
    let region = handle.region.clone();
    rt.block_on(handle.shutdown());
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        stdout.starts_with(&format!("make image: building on the real cloud in region {region}\n")),
        "{stdout}"
    );
    assert!(!out.contains("embedded local cloud"), "{out}");
    assert!(stdout.contains("==> Builds finished. The artifacts of successful builds are:"), "{out}");
    assert!(stdout.contains("An image was created: "), "{out}");
    assert!(!out.contains(sk), "the secret key was printed");
    // The manifest of the kit's template is there; no disk was exported on this path.
    let outputs: Vec<String> = std::fs::read_dir(kit.path().join("output"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert_eq!(outputs, ["packer-manifest.json"], "{out}");
    assert_eq!(leftovers, (0, 0, 0), "servers, EIPs, keypairs left\n{out}");
    // The journal is the plain user's.
    use std::os::unix::fs::MetadataExt as _;
    let journals = kit.path().join("state/cce-image-builder/builds");
    assert_eq!(std::fs::metadata(&journals).expect("the journal folder").uid(), 65534);
}
