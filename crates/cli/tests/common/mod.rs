//! What the CLI tests share: running the binary, reading its output, a work folder with a
//! template, the prerequisite check that fails under `CI=true`, a real sshd on loopback, and
//! the embedded local cloud's state folder and inventory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_cce-image-builder");

/// The binary with `args`, in `dir`, without the caller's SSH agent and with no stdin.
pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .args(args)
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null());
    cmd
}

/// Runs the binary with `args` in `dir` to its end.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output().expect("the binary runs")
}

/// Runs the binary with `args` in `dir` and the variables `env` to its end.
pub fn run_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = command(dir, args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the binary runs")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Stdout then stderr of a run.
pub fn both(o: &Output) -> String {
    format!("{}{}", text(&o.stdout), text(&o.stderr))
}

/// A work directory with `t.pkr.hcl` holding `template`.
pub fn project(template: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(d.path().join("t.pkr.hcl"), template).expect("the template is written");
    d
}

pub fn p(d: &tempfile::TempDir, name: &str) -> PathBuf {
    d.path().join(name)
}

/// True when nothing in `missing` is missing; else says what is and returns false, or fails
/// the test under `CI=true`.
pub fn require(missing: &[&str]) -> bool {
    if missing.is_empty() {
        return true;
    }
    let msg = format!("missing prerequisites: {}", missing.join(", "));
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg} (CI=true makes this a failure)");
    }
    eprintln!("skipping: {msg}");
    false
}

/// Whether this process runs as root (the owner of its own /proc entry).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// True when this host can run the local cloud's sandbox servers; else says why and returns
/// false, or fails the test under `CI=true`.
pub fn sandboxes_ok() -> bool {
    match cce_sandbox::host_supports_sandboxes() {
        Ok(()) => true,
        Err(e) => require(&[&format!(
            "local-cloud sandboxes (the embedded local cloud runs its servers as sandboxes): {e}"
        )]),
    }
}

/// A temporary folder under /var/tmp that others can search: sandbox users must reach the
/// local cloud's disks, which a folder under root's home or a 0700 temporary folder hides.
pub fn searchable_dir(prefix: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/var/tmp")
        .expect("a temporary folder under /var/tmp");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("the folder is made searchable");
    dir
}

/// A signed client of a running local cloud.
pub fn local_client(handle: &cce_localcloud::LocalCloudHandle) -> cce_cloud::Client {
    let file = cce_cloud::EndpointsFile::parse(&handle.ready_line(), "ready line")
        .expect("the local cloud's ready line parses");
    let config =
        cce_cloud::ClientConfig::from_endpoints_file(&file, &std::collections::HashMap::new())
            .expect("the ready line makes a client configuration");
    cce_cloud::Client::new(config).expect("a client of the local cloud")
}

/// Everything the local cloud on `state` holds that a build could have made, as sorted lines
/// (servers with their status, key pairs, EIPs, VPCs, subnets, private images with their
/// status). Starts a record-only cloud on the state for the look.
pub fn inventory(state: &Path) -> Vec<String> {
    use cce_cloud::models::{ImageQuery, ServerQuery};
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async {
        let handle = cce_localcloud::LocalCloud::start(cce_localcloud::Config::new(state))
            .await
            .expect("the local cloud starts on the state folder");
        let client = local_client(&handle);
        let mut out = Vec::new();
        for s in client
            .list_servers(&ServerQuery::default())
            .await
            .expect("servers list")
            .servers
        {
            out.push(format!("server {} {}", s.name, s.status));
        }
        for k in client.list_keypairs().await.expect("key pairs list") {
            out.push(format!("keypair {}", k.name));
        }
        for e in client.list_eips().await.expect("EIPs list") {
            out.push(format!("eip {}", e.id));
        }
        for v in client.list_vpcs().await.expect("VPCs list") {
            out.push(format!("vpc {}", v.id));
        }
        for s in client.list_subnets(None).await.expect("subnets list") {
            out.push(format!("subnet {}", s.id));
        }
        let q = ImageQuery {
            image_type: Some("private".into()),
            ..Default::default()
        };
        for i in client.list_images(&q).await.expect("images list") {
            out.push(format!("image {} {}", i.id, i.status));
        }
        handle.shutdown().await;
        out.sort();
        out
    })
}
