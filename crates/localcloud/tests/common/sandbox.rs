//! Helpers of the sandbox-server tests: ssh with the real OpenSSH client, waits on server status,
//! addresses, and what a test may have left on the host.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cce_localcloud::{LocalCloudHandle, Service};
use serde_json::Value;

use super::Client;

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

pub fn ssh(key: &Path, addr: &str, cmd: &str) -> (i32, String) {
    let out = Command::new("ssh")
        .arg("-i")
        .arg(key)
        .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"])
        .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR"])
        .arg(format!("root@{addr}"))
        .arg(cmd)
        .output()
        .expect("ssh runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string()
            + &String::from_utf8_lossy(&out.stderr),
    )
}

pub fn ssh_ok(key: &Path, addr: &str, cmd: &str) -> String {
    let (code, out) = ssh(key, addr, cmd);
    assert_eq!(code, 0, "`{cmd}` on {addr} failed: {out}");
    out
}

pub async fn wait_status(c: &Client, h: &LocalCloudHandle, id: &str, want: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let a = c.call(h, Service::Ecs, "GET", &format!("/v1/{{pid}}/cloudservers/{id}"), &[], None).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let st = a.body["server"]["status"].as_str().unwrap_or("").to_string();
        if st == want {
            return a.body["server"].clone();
        }
        assert_ne!(st, "ERROR", "server {id} failed: {}", a.body["server"]["fault"]);
        assert!(Instant::now() < deadline, "server {id} still {st}, wanted {want}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

