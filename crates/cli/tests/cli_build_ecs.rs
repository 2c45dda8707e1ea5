//! `build` of a huaweicloud-ecs source through the real binary with no credentials: it starts
//! the embedded local cloud (sandbox servers reached over SSH), builds an image, prints it like
//! Packer, writes the manifest, puts the provisioner's file and the build log in the image and
//! closes its journal. Needs root (under `CI=true` a missing prerequisite fails the test).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cce_engine::ledger::{FinishStatus, Journal};
use common::{sandboxes_ok, searchable_dir};

/// Where a test's build lives: a folder sandboxes can search, and in it the local cloud's
/// state, the journals' `XDG_STATE_HOME` and the work folder (made).
fn dirs(prefix: &str) -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let base = searchable_dir(prefix);
    let work = base.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let (cloud, state) = (base.path().join("cloud"), base.path().join("xdg-state"));
    (base, cloud, state, work)
}

/// The journal folders of the builds whose `XDG_STATE_HOME` is `state`.
fn journal_dirs(state: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(state.join("cce-image-builder").join("builds"))
        .expect("journals")
        .flatten()
        .map(|e| e.path())
        .collect()
}

const TEMPLATE: &str = r#"
source "huaweicloud-ecs" "node" {
  image_name   = "cce-cli-build-test"
  image_tags   = { purpose = "cli-test" }
  ssh_username = "root"
}

source "huaweicloud-ecs" "second" {
  image_name   = "cce-cli-build-test-second"
  ssh_username = "root"
}

build {
  sources = ["source.huaweicloud-ecs.node", "source.huaweicloud-ecs.second"]
  provisioner "shell" {
    inline = ["echo from-the-provisioner | tee /root/marker"]
  }
  post-processor "manifest" {
    output = "manifest.json"
  }
}
"#;

/// Runs the binary with a clean environment, killing it after `limit`.
fn run(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &Path)],
    limit: Duration,
) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cce-image-builder"));
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for k in ["PATH", "HOME"] {
        if let Ok(v) = std::env::var(k) {
            cmd.env(k, v);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the binary starts");
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `build ARGS` on `template` where the local cloud and the journals would go to a folder
/// that must stay uncreated, and asserts the exit code: stdout and stderr of a run refused
/// before anything started.
fn refused(template: &str, args: &[&str], code: i32) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("build.pkr.hcl"), template).unwrap();
    let none = dir.path().join("never-created");
    let (got, stdout, stderr) = run(
        dir.path(),
        args,
        &[("CCE_LOCALCLOUD_STATE", &none), ("XDG_STATE_HOME", &none)],
        Duration::from_secs(60),
    );
    assert_eq!(got, Some(code), "{stdout}{stderr}");
    assert!(!none.exists(), "nothing was started");
    (stdout, stderr)
}

#[test]
fn a_template_without_credentials_builds_an_image_on_the_local_cloud() {
    if !sandboxes_ok() {
        return;
    }
    // Sandboxes run as other users: the cloud's state must be under a searchable directory.
    let (_base, cloud, state, work) = dirs("cce-cli-ecs-");
    std::fs::write(work.join("build.pkr.hcl"), TEMPLATE).unwrap();
    let log = work.join("packer.log");
    std::fs::write(&log, "a line of the build log\n").unwrap();

    let (code, stdout, stderr) = run(
        &work,
        &["build", "-on-error=cleanup", "-parallel-builds=2", "."],
        &[
            ("CCE_LOCALCLOUD_STATE", &cloud),
            ("XDG_STATE_HOME", &state),
            ("PACKER_LOG_PATH", &log),
            // The debug log exists only with PACKER_LOG on, as in Packer (the kit sets both).
            ("PACKER_LOG", std::path::Path::new("1")),
        ],
        Duration::from_secs(300),
    );
    let all = format!("{stdout}\n--- stderr\n{stderr}");
    assert_eq!(code, Some(0), "{all}");
    assert_eq!(
        stdout.lines().next(),
        Some(
            "==> Building on the embedded local cloud (no credentials set): it proves the pipeline and the scripts, not the cloud"
        ),
        "{all}"
    );
    assert!(
        stdout.contains("    huaweicloud-ecs.node: from-the-provisioner"),
        "{all}"
    );
    assert!(
        stdout.contains("==> Builds finished. The artifacts of successful builds are:"),
        "{all}"
    );
    let image_of = |name: &str| {
        stdout
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    "--> huaweicloud-ecs.{name}: An image was created: "
                ))
            })
            .unwrap_or_else(|| panic!("no artifact line for {name}: {all}"))
            .trim()
            .to_string()
    };
    let image_id = image_of("node");
    let second_id = image_of("second");
    assert!(
        !image_id.is_empty() && !second_id.is_empty() && image_id != second_id,
        "{all}"
    );
    // Both builds ran on one local cloud: the second image's disk is in the same state.
    assert!(
        cloud
            .join("layers")
            .join(&second_id)
            .join("root/marker")
            .exists()
    );

    // The manifest names the image.
    let manifest = std::fs::read_to_string(work.join("manifest.json")).expect("manifest written");
    assert!(
        manifest.contains(&format!("\"artifact_id\": \"{image_id}\""))
            && manifest.contains("\"builder_type\": \"huaweicloud-ecs\""),
        "{manifest}"
    );

    // The image's disk holds the provisioner's file and the build log.
    let layer = cloud.join("layers").join(&image_id);
    let marker = std::fs::read_to_string(layer.join("root/marker"))
        .expect("the provisioner's file is in the image");
    assert_eq!(marker.trim(), "from-the-provisioner");
    let packed = std::fs::read_to_string(layer.join("var/log/cce-image-builder/build.log"))
        .expect("the build log is in the image");
    assert!(
        packed.contains("ui:"),
        "the packed log is not the build's debug log: {packed}"
    );

    // One journal per build, finished, with nothing left to clean up.
    let dirs = journal_dirs(&state);
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    for d in &dirs {
        let journal = Journal::read(&d.join("journal.jsonl")).expect("journal reads");
        assert_eq!(journal.finished(), Some(FinishStatus::Succeeded));
        assert!(
            journal.outstanding().is_empty(),
            "{:?}",
            journal.outstanding()
        );
        let build_id = d.file_name().unwrap().to_string_lossy().into_owned();
        assert!(stdout.contains(&format!("Build id {build_id}")), "{all}");
    }
}

/// The network as a kit template writes it: each field from a variable bound to the
/// document's environment variables, in lists, all unset.
const KIT_STYLE: &str = r#"
variable "ecs_vpc_id" {
  type    = string
  default = env("ECS_VPC_ID")
}
variable "ecs_network_id" {
  type    = string
  default = env("ECS_NETWORK_ID")
}
variable "ecs_secgrp_id" {
  type    = string
  default = env("ECS_SECGRP_ID")
}
variable "cce_source_image_id" {
  type    = string
  default = env("CCE_SOURCE_IMAGE_ID")
}
source "huaweicloud-ecs" "builder" {
  region          = env_region
  access_key      = ""
  secret_key      = ""
  source_image    = var.cce_source_image_id
  vpc_id          = var.ecs_vpc_id
  subnets         = [var.ecs_network_id]
  security_groups = [var.ecs_secgrp_id]
  image_name      = "cce-kit-style"
  ssh_username    = "root"
}
build {
  sources = ["source.huaweicloud-ecs.builder"]
  provisioner "shell" {
    inline = ["echo kit-style-ran"]
  }
}
"#;

#[test]
fn unset_network_variables_in_lists_let_the_local_cloud_choose() {
    if !sandboxes_ok() {
        return;
    }
    let (_base, cloud, state, work) = dirs("cce-cli-ecs-kit-");
    std::fs::write(
        work.join("build.pkr.hcl"),
        KIT_STYLE.replace("env_region", "\"\""),
    )
    .unwrap();
    let (code, stdout, stderr) = run(
        &work,
        &["build", "."],
        &[("CCE_LOCALCLOUD_STATE", &cloud), ("XDG_STATE_HOME", &state)],
        Duration::from_secs(300),
    );
    let all = format!("{stdout}\n--- stderr\n{stderr}");
    assert_eq!(code, Some(0), "{all}");
    assert!(stdout.contains("    huaweicloud-ecs.builder: kit-style-ran"), "{all}");
    assert!(
        stdout.contains("--> huaweicloud-ecs.builder: An image was created: "),
        "{all}"
    );
}

#[test]
fn unset_network_variables_in_lists_are_named_in_the_cloud() {
    let dir = tempfile::tempdir().unwrap();
    let template = KIT_STYLE
        .replace("env_region", "\"ru-moscow-1\"")
        .replace("access_key      = \"\"", "access_key      = \"AK\"")
        .replace("secret_key      = \"\"", "secret_key      = \"SK\"")
        .replace("vpc_id          = var.ecs_vpc_id", "vpc_id          = \"v\"")
        .replace("source_image    = var.cce_source_image_id", "source_image = \"i\"\n  flavor = \"s7n.large.2\"");
    std::fs::write(dir.path().join("build.pkr.hcl"), template).unwrap();
    let (code, stdout, stderr) = run(
        dir.path(),
        &["validate", "."],
        &[],
        Duration::from_secs(60),
    );
    let all = format!("{stdout}\n--- stderr\n{stderr}");
    assert_eq!(code, Some(1), "{all}");
    assert!(
        all.contains("an entry of \"subnets\" (or \"networks\") is empty")
            && all.contains("ECS_NETWORK_ID")
            && all.contains("an entry of \"security_groups\" is empty")
            && all.contains("ECS_SECGRP_ID")
            && all.contains("build.pkr.hcl:"),
        "{all}"
    );
}

#[test]
fn sigint_interrupts_the_build_and_cleans_up() {
    if !sandboxes_ok() {
        return;
    }
    use std::io::BufRead as _;
    let (_base, cloud, state, work) = dirs("cce-cli-ecs-int-");
    let tpl = "source \"huaweicloud-ecs\" \"node\" {\n  image_name = \"cce-cli-int\"\n  ssh_username = \"root\"\n}\nbuild {\n  sources = [\"source.huaweicloud-ecs.node\"]\n  provisioner \"shell\" {\n    inline = [\"sleep 120\"]\n  }\n}\n";
    std::fs::write(work.join("build.pkr.hcl"), tpl).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cce-image-builder"))
        .args(["build", "."])
        .current_dir(&work)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CCE_LOCALCLOUD_STATE", &cloud)
        .env("XDG_STATE_HOME", &state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let pid = child.id();
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut sent = false;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if !sent && line.contains("Created server") {
                let st = Command::new("kill")
                    .args(["-INT", &pid.to_string()])
                    .status()
                    .expect("kill runs");
                assert!(st.success());
                sent = true;
            }
            lines.push(line);
        }
        (sent, lines.join("\n"))
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the build did not end after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (sent, out) = reader.join().expect("reader");
    let mut err = String::new();
    let _ = std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err);
    assert!(sent, "the server was never created: {out}\n{err}");
    assert_eq!(status.code(), Some(130), "{out}\n{err}");
    assert!(out.contains("Deleted server"), "{out}\n{err}");
    let dirs = journal_dirs(&state);
    assert_eq!(dirs.len(), 1);
    let journal = Journal::read(&dirs[0].join("journal.jsonl")).expect("journal reads");
    assert_eq!(journal.finished(), Some(FinishStatus::Interrupted));
    assert!(
        journal.outstanding().is_empty(),
        "{:?}",
        journal.outstanding()
    );
}

#[test]
fn unsupported_fields_are_refused_before_anything_starts() {
    let tpl = TEMPLATE.replace(
        "ssh_username = \"root\"",
        "ssh_username = \"root\"\n  kms_key_id = \"k\"\n  ssh_ip_version = \"6\"",
    );
    let (stdout, stderr) = refused(&tpl, &["build", "."], 1);
    assert!(
        stderr.contains("source huaweicloud-ecs.node: kms_key_id is not supported yet"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ssh_ip_version = \"6\" is not supported yet"),
        "{stderr}"
    );
    assert!(!stdout.contains("embedded local cloud"), "{stdout}");
}

/// With credentials the build talks to "the real cloud": here a local cloud standing in for it
/// through `CCE_ENDPOINTS_FILE`, so the credentialed path (keys from the template, project
/// resolved through IAM by name, journal of a real target) runs end to end.
#[test]
fn with_credentials_the_build_uses_the_endpoints_it_is_given() {
    if !sandboxes_ok() {
        return;
    }
    use std::sync::Arc;
    let (base, cloud_dir, state, work) = dirs("cce-cli-ecs-real-");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let handle = rt.block_on(async {
        let backend = cce_localcloud::SandboxBackend::new(
            cce_localcloud::SandboxConfig::new(&cloud_dir, |k| std::env::var(k).ok()),
            tokio::runtime::Handle::current(),
        );
        // The template's keys are the ones this cloud accepts; its project is found by name.
        let mut config = cce_localcloud::Config::new(&cloud_dir);
        config.access_key = Some("TEMPLATEACCESSKEY0001".into());
        config.secret_key = Some("template-secret-key-0001".into());
        cce_localcloud::LocalCloud::start_with_backend(config, Arc::new(backend))
            .await
            .expect("local cloud starts")
    });
    let endpoints = base.path().join("endpoints.json");
    std::fs::write(&endpoints, handle.ready_line()).unwrap();
    // As on the real cloud, the server goes into the user's VPC (the temporary one would not be
    // on loopback, where local-cloud servers listen).
    let (vpc, subnet) = rt.block_on(async {
        let file = cce_cloud::EndpointsFile::parse(&handle.ready_line(), "ready line")
            .expect("ready line");
        let config = cce_cloud::ClientConfig::from_endpoints_file(&file, &Default::default())
            .expect("config");
        let c = cce_cloud::Client::new(config).expect("client");
        let s = c
            .list_subnets(None)
            .await
            .expect("subnets")
            .into_iter()
            .next()
            .expect("a default subnet");
        (s.vpc_id, s.id)
    });
    let tpl = format!(
        r#"
source "huaweicloud-ecs" "node" {{
  image_name        = "cce-cli-real-path"
  flavor            = "s7n.large.2"
  source_image_name = "Debian 12 (local sandbox rootfs)"
  vpc_id            = "{vpc}"
  subnets           = ["{subnet}"]
  ssh_username      = "root"
}}
build {{
  sources = ["source.huaweicloud-ecs.node"]
  provisioner "shell" {{
    inline = ["echo on-the-credentialed-path"]
  }}
}}
"#
    );
    std::fs::write(work.join("build.pkr.hcl"), tpl).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cce-image-builder"));
    cmd.args(["build", "."]).current_dir(&work).env_clear();
    cmd.env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("XDG_STATE_HOME", &state)
        .env("CCE_ENDPOINTS_FILE", &endpoints)
        .env("HW_ACCESS_KEY", "TEMPLATEACCESSKEY0001")
        .env("HW_SECRET_KEY", "template-secret-key-0001")
        .env("HW_REGION_NAME", &handle.region);
    let out = cmd.output().expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let all = format!(
        "{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rt.block_on(handle.shutdown());
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(!stdout.contains("embedded local cloud"), "{all}");
    assert!(
        stdout.contains("    huaweicloud-ecs.node: on-the-credentialed-path"),
        "{all}"
    );
    assert!(
        stdout.contains("--> huaweicloud-ecs.node: An image was created: "),
        "{all}"
    );
    let dirs = journal_dirs(&state);
    let journal = Journal::read(&dirs[0].join("journal.jsonl")).expect("journal reads");
    let header = journal.header().expect("a header");
    assert_eq!(header.cloud.kind, cce_engine::ledger::CloudKind::Real);
    assert_eq!(
        header.cloud.endpoints_file.as_deref(),
        Some(endpoints.as_path())
    );
    assert!(
        journal.outstanding().is_empty(),
        "{:?}",
        journal.outstanding()
    );
}

#[test]
fn debug_needs_a_terminal() {
    let (_, stderr) = refused(TEMPLATE, &["build", "-debug", "."], 2);
    assert!(
        stderr.contains("-debug pauses for Enter after each step and needs a terminal"),
        "{stderr}"
    );
}

/// The same build on the realistic profile scaled down (a server in 1.2-1.8 s, an image in
/// 2.4-3.6 s): jobs that take time, EIPs and VPCs that pass through their pending states. The
/// build still ends with the image and leaves nothing else.
#[test]
fn the_build_succeeds_on_the_scaled_realistic_profile() {
    if !sandboxes_ok() {
        return;
    }
    let (_base, cloud, state, work) = dirs("cce-cli-ecs-real-");
    std::fs::write(
        work.join("build.pkr.hcl"),
        r#"
source "huaweicloud-ecs" "real" {
  eip_type           = "5_bgp"
  eip_bandwidth_size = 5
  ssh_username       = "root"
  image_name         = "cce-ib-realistic"
}
build {
  sources = ["source.huaweicloud-ecs.real"]
  provisioner "shell" {
    inline = ["echo realistic > /root/marker"]
  }
}
"#,
    )
    .unwrap();
    let started = Instant::now();
    let (code, stdout, stderr) = run(
        &work,
        &["build", "--json", "."],
        &[
            ("CCE_LOCALCLOUD_STATE", &cloud),
            ("XDG_STATE_HOME", &state),
            ("CCE_LOCALCLOUD_PROFILE", Path::new("realistic")),
            ("CCE_LOCALCLOUD_SCALE", Path::new("0.02")),
        ],
        Duration::from_secs(300),
    );
    let all = format!("{stdout}\n--- stderr\n{stderr}");
    assert_eq!(code, Some(0), "{all}");
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let artifact = events
        .iter()
        .find(|e| e["type"] == "artifact")
        .unwrap_or_else(|| panic!("no artifact event: {all}"));
    let image_id = artifact["id"].as_str().unwrap();
    assert!(
        cloud
            .join("layers")
            .join(image_id)
            .join("root/marker")
            .exists(),
        "{all}"
    );
    // The profile's waits really happened: a server build, its stop and the image job take
    // at least 1.2 + 0.2 + 2.4 s at this scale.
    assert!(
        started.elapsed() >= Duration::from_millis(3800),
        "{:?}",
        started.elapsed()
    );
    let finished = events
        .iter()
        .find(|e| e["type"] == "build_finished")
        .unwrap();
    assert_eq!(finished["status"], "succeeded", "{all}");
    let deleted = events
        .iter()
        .filter(|e| e["type"] == "resource_deleted")
        .count();
    assert!(
        deleted >= 5,
        "server, keypair, EIP, VPC and subnet are deleted: {all}"
    );
}

/// A template that logs in with a password of the image's own meets the local cloud's base
/// images, which let root in only with the server's keypair: the build says so as soon as the
/// image is chosen, and fails on the refused password, not on a timeout of unknown cause.
#[test]
fn a_password_login_on_a_base_image_is_warned_about_and_named_when_it_fails() {
    if !sandboxes_ok() {
        return;
    }
    let (_base, cloud, state, work) = dirs("cce-cli-ecs-pw-");
    std::fs::write(
        work.join("build.pkr.hcl"),
        r#"
source "huaweicloud-ecs" "node" {
  image_name   = "cce-cli-password"
  ssh_username = "root"
  ssh_password = "Not-The-Password-1"
  # Two refusals end the wait; the timeout is only a backstop for a slow machine.
  ssh_handshake_attempts = 2
  ssh_timeout            = "90s"
}
build {
  sources = ["source.huaweicloud-ecs.node"]
}
"#,
    )
    .unwrap();
    let (code, stdout, stderr) = run(
        &work,
        &["build", "."],
        &[("CCE_LOCALCLOUD_STATE", &cloud), ("XDG_STATE_HOME", &state)],
        Duration::from_secs(240),
    );
    let all = format!("{stdout}\n--- stderr\n{stderr}");
    assert_eq!(code, Some(1), "{all}");
    assert!(
        stdout.contains("Warning: the local cloud's base images let root in only with the server's keypair"),
        "{all}"
    );
    assert!(stdout.contains("password rejected"), "{all}");
    assert!(!all.contains("Not-The-Password-1"), "the password was printed: {all}");
}
