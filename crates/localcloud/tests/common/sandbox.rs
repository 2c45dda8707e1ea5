//! Helpers of the sandbox-server tests: what they need on the host, a local cloud with sandbox
//! servers, a keypair on disk, create bodies on the default network, ssh with the real OpenSSH
//! client, waits on server status, addresses, and what a test may have left on the host.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cce_localcloud::{
    Config, LocalCloud, LocalCloudHandle, SandboxBackend, SandboxConfig, Service,
};
use serde_json::{Value, json};

use super::Client;

/// A program a test runs, probed with `program arg`.
pub struct Tool {
    pub program: &'static str,
    pub arg: &'static str,
    /// What to say when it is missing.
    pub missing: &'static str,
}

pub const SSH_CLIENT: Tool = Tool {
    program: "ssh",
    arg: "-V",
    missing: "the OpenSSH client `ssh` is not installed",
};

pub const LOSETUP: Tool = Tool {
    program: "losetup",
    arg: "--version",
    missing: "`losetup` is not installed (apt-get install util-linux)",
};

/// Whether this host can run sandbox servers and has `tools`. Under `CI=true` a missing
/// prerequisite fails the test; otherwise the test is skipped with a message.
pub fn prerequisites(tools: &[Tool]) -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let missing = match cce_sandbox::host_supports_sandboxes() {
        Err(e) => Some(e.to_string()),
        Ok(()) => tools
            .iter()
            .find(|t| Command::new(t.program).arg(t.arg).output().is_err())
            .map(|t| t.missing.to_string()),
    };
    match missing {
        None => true,
        Some(m) if ci => panic!("CI=true and local-cloud sandboxes cannot run: {m}"),
        Some(m) => {
            eprintln!("skipping: {m}");
            false
        }
    }
}

/// A scratch folder for a local cloud with sandbox servers: 0711, as a sandbox's root is not
/// root on the host and must be able to walk down to its folder.
pub fn scratch_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    dir
}

/// A local cloud on `dir` whose servers are sandboxes.
pub async fn start_sandboxed(dir: &Path) -> LocalCloudHandle {
    let backend = SandboxBackend::new(
        SandboxConfig::new(dir, |k| std::env::var(k).ok()),
        tokio::runtime::Handle::current(),
    );
    LocalCloud::start_with_backend(Config::new(dir), Arc::new(backend))
        .await
        .expect("local cloud starts")
}

/// Creates keypair `name` through the API and writes its private key to `dir/id_kp` (mode 0600).
pub async fn keypair_file(c: &Client, h: &LocalCloudHandle, name: &str, dir: &Path) -> PathBuf {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let kp = c
        .post(
            h,
            Service::Ecs,
            "/v2.1/{pid}/os-keypairs",
            &json!({"keypair": {"name": name}}),
        )
        .await;
    assert_eq!(kp.status, 200, "{}", kp.body);
    let key = dir.join("id_kp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&key)
        .unwrap();
    f.write_all(
        kp.body["keypair"]["private_key"]
            .as_str()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    key
}

/// The default subnet and the id of the sandbox rootfs gold image.
pub async fn default_network(c: &Client, h: &LocalCloudHandle) -> (Value, Value) {
    let subnets = c.get(h, Service::Vpc, "/v1/{pid}/subnets").await;
    let gold = c
        .get_query(
            h,
            Service::Ims,
            "/v2/cloudimages",
            &[
                ("__imagetype", "gold"),
                ("name", "Debian 12 (local sandbox rootfs)"),
            ],
        )
        .await;
    (
        subnets.body["subnets"][0].clone(),
        gold.body["images"][0]["id"].clone(),
    )
}

/// A create-server body for `image` on `subnet`; the fields of `extra` are set on `server` too
/// (and replace the usual ones).
pub fn server_body(subnet: &Value, image: &Value, name: &str, extra: Value) -> Value {
    let mut server = json!({
        "name": name, "imageRef": image, "flavorRef": "s7n.large.2",
        "vpcid": subnet["vpc_id"], "nics": [{"subnet_id": subnet["id"]}],
        "availability_zone": "ru-moscow-1a", "root_volume": {"volumetype": "SSD", "size": 40},
        "extendparam": {"chargingMode": 0},
    });
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            server[k] = v;
        }
    }
    json!({"server": server})
}

pub fn fixed_ip(server: &Value) -> String {
    server["addresses"]
        .as_object()
        .and_then(|m| m.values().next())
        .and_then(|a| a[0]["addr"].as_str())
        .expect("server has an address")
        .to_string()
}

pub fn leftovers(ids: &[String]) -> Vec<String> {
    let mut left = Vec::new();
    for id in ids {
        let ns = PathBuf::from(format!("/run/netns/cce-sb-{id}"));
        if ns.exists() {
            left.push(ns.display().to_string());
        }
        for root in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
            let cg = PathBuf::from(root).join("cce-sandboxes").join(id);
            if cg.exists() {
                left.push(cg.display().to_string());
            }
        }
    }
    left
}

/// `ssh root@addr cmd` with the real OpenSSH client: host keys neither checked nor kept,
/// `options` (`-i key`, `-o ...`) and `env` added; the exit code and stdout (trimmed) + stderr.
pub fn ssh_with(
    addr: &str,
    options: &[&std::ffi::OsStr],
    env: &[(&str, &std::ffi::OsStr)],
    cmd: &str,
) -> (i32, String) {
    let mut c = Command::new("ssh");
    c.args([
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
    ])
    .args(["-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR"])
    .args(options)
    .arg(format!("root@{addr}"))
    .arg(cmd)
    .stdin(std::process::Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("ssh runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string()
            + &String::from_utf8_lossy(&out.stderr),
    )
}

/// `ssh root@addr cmd` logged in with the private key `key`.
pub fn ssh(key: &Path, addr: &str, cmd: &str) -> (i32, String) {
    let opts: [&std::ffi::OsStr; 4] = [
        "-i".as_ref(),
        key.as_os_str(),
        "-o".as_ref(),
        "BatchMode=yes".as_ref(),
    ];
    ssh_with(addr, &opts, &[], cmd)
}

pub fn ssh_ok(key: &Path, addr: &str, cmd: &str) -> String {
    let (code, out) = ssh(key, addr, cmd);
    assert_eq!(code, 0, "`{cmd}` on {addr} failed: {out}");
    out
}

pub async fn wait_status(
    c: &Client,
    h: &LocalCloudHandle,
    id: &str,
    want: &str,
    timeout: Duration,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let a = c
            .get(h, Service::Ecs, &format!("/v1/{{pid}}/cloudservers/{id}"))
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let st = a.body["server"]["status"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if st == want {
            return a.body["server"].clone();
        }
        assert_ne!(
            st, "ERROR",
            "server {id} failed: {}",
            a.body["server"]["fault"]
        );
        assert!(
            Instant::now() < deadline,
            "server {id} still {st}, wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits for job `job` of `service` to end (SUCCESS or FAIL) and gives its body.
pub async fn wait_job(
    c: &Client,
    h: &LocalCloudHandle,
    service: Service,
    job: &str,
    timeout: Duration,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let a = c.get(h, service, &format!("/v1/{{pid}}/jobs/{job}")).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let st = a.body["status"].as_str().unwrap_or("").to_string();
        if st == "SUCCESS" || st == "FAIL" {
            return a.body;
        }
        assert!(Instant::now() < deadline, "job {job} still {st}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
