//! Security groups on sandbox servers: a server whose groups admit no TCP 22 is ACTIVE but its
//! forwarder closes every SSH connection unforwarded; a rule admitting TCP 22 added through the
//! API opens it (from the next API call on), and deleting the rule closes it again. Needs root
//! (under `CI=true` a missing prerequisite fails the test).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use cce_localcloud::{LocalCloudHandle, Service};
use common::Client;
use common::sandbox::{
    SSH_CLIENT, default_network, fixed_ip, keypair_file, prerequisites, server_body, ssh, ssh_ok, start_sandboxed, wait_status,
};
use serde_json::json;

const E: Service = Service::Ecs;
const V: Service = Service::Vpc;

/// Runs `ssh` until it gives `want` (0 or not), polling the API between tries as a client
/// would; panics after `timeout`.
async fn wait_ssh(c: &Client, h: &LocalCloudHandle, id: &str, key: &Path, ip: &str, admitted: bool, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let _ = c.get(h, E, &format!("/v1/{{pid}}/cloudservers/{id}")).await;
        let (k, i) = (key.to_path_buf(), ip.to_string());
        let (code, out) = tokio::task::spawn_blocking(move || ssh(&k, &i, "hostname")).await.unwrap();
        if (code == 0) == admitted {
            return out;
        }
        assert!(Instant::now() < deadline, "ssh to {ip}: exit {code} ({out}), wanted admitted={admitted}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_groups_decide_who_reaches_ssh() {
    if !prerequisites(&[SSH_CLIENT]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o711)).unwrap();
    let h = start_sandboxed(dir.path()).await;
    let c = Client::new(&h);
    let key = keypair_file(&c, &h, "kp-sg", dir.path()).await;
    let groups = c.get(&h, V, "/v1/{pid}/security-groups").await;
    let group = |name: &str| {
        groups.body["security_groups"].as_array().unwrap().iter().find(|g| g["name"] == name).unwrap()["id"].as_str().unwrap().to_string()
    };
    let (open, closed) = (group("default"), group("sg-no-ssh"));
    let (subnet, gold) = default_network(&c, &h).await;
    let mut ids = Vec::new();
    for (name, sg) in [("sg-open", &open), ("sg-closed", &closed)] {
        let body = server_body(&subnet, &gold, name, json!({"key_name": "kp-sg", "security_groups": [{"id": sg}]}));
        let a = c.post(&h, E, "/v1/{pid}/cloudservers", &body).await;
        assert_eq!(a.status, 200, "{}", a.body);
        ids.push(a.body["serverIds"][0].as_str().unwrap().to_string());
    }
    let open_ip = fixed_ip(&wait_status(&c, &h, &ids[0], "ACTIVE", Duration::from_secs(180)).await);
    let closed_ip = fixed_ip(&wait_status(&c, &h, &ids[1], "ACTIVE", Duration::from_secs(180)).await);
    {
        let (k, i) = (key.clone(), open_ip.clone());
        assert_eq!(tokio::task::spawn_blocking(move || ssh_ok(&k, &i, "hostname")).await.unwrap(), "sg-open");
    }
    // ACTIVE, its sshd up, but its group admits no SSH: the connection is closed unforwarded.
    let (k, i) = (key.clone(), closed_ip.clone());
    let (code, out) = tokio::task::spawn_blocking(move || ssh(&k, &i, "hostname")).await.unwrap();
    assert_ne!(code, 0, "a server whose groups admit no TCP 22 was reached: {out}");

    let rule = c
        .post(&h, V, "/v1/{pid}/security-group-rules", &json!({"security_group_rule": { "security_group_id": closed, "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "127.0.0.0/8", }}))
        .await;
    assert!(rule.status < 300, "{} {}", rule.status, rule.body);
    let rule_id = rule.body["security_group_rule"]["id"].as_str().unwrap().to_string();
    let out = wait_ssh(&c, &h, &ids[1], &key, &closed_ip, true, Duration::from_secs(20)).await;
    assert_eq!(out, "sg-closed");

    let d = c.delete(&h, V, &format!("/v1/{{pid}}/security-group-rules/{rule_id}")).await;
    assert!(d.status < 300, "{} {}", d.status, d.body);
    wait_ssh(&c, &h, &ids[1], &key, &closed_ip, false, Duration::from_secs(20)).await;

    let d = c
        .post(&h, E, "/v1/{pid}/cloudservers/delete", &json!({"servers": [{"id": ids[0]}, {"id": ids[1]}]}))
        .await;
    assert_eq!(d.status, 200, "{}", d.body);
    h.shutdown().await;
}
