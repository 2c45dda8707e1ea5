//! Two local clouds with sandbox servers on one host at once: each claims its own loopback block,
//! so their servers' fixed IPs and their EIPs differ, both servers boot and each address reaches
//! its own server; a restart keeps a cloud's block. Needs root (under `CI=true` a missing
//! prerequisite fails the test).

mod common;

use std::path::Path;
use std::time::Duration;

use cce_localcloud::{LocalCloudHandle, Service};
use common::Client;
use common::sandbox::{SSH_CLIENT, default_network, fixed_ip, keypair_file, prerequisites, server_body, ssh_ok, start_sandboxed, wait_status};
use serde_json::json;

const E: Service = Service::Ecs;
const V: Service = Service::Vpc;

/// A server named `name` in the default subnet; its fixed IP, the subnet's CIDR, the key file.
async fn server(h: &LocalCloudHandle, dir: &Path, name: &str) -> (String, String, std::path::PathBuf) {
    let c = Client::new(h);
    let key = keypair_file(&c, h, &format!("kp-{name}"), dir).await;
    let (subnet, gold) = default_network(&c, h).await;
    let body = server_body(&subnet, &gold, name, json!({"key_name": format!("kp-{name}")}));
    let a = c.post(h, E, "/v1/{pid}/cloudservers", &body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let id = a.body["serverIds"][0].as_str().unwrap().to_string();
    let s = wait_status(&c, h, &id, "ACTIVE", Duration::from_secs(180)).await;
    (fixed_ip(&s), subnet["cidr"].as_str().unwrap().to_string(), key)
}

async fn eip(h: &LocalCloudHandle) -> String {
    let c = Client::new(h);
    let e = c
        .post(h, V, "/v1/{pid}/publicips", &json!({"publicip": {"type": "5_bgp"}, "bandwidth": {"name": "bw", "size": 5, "share_type": "PER", "charge_mode": "traffic"}}))
        .await;
    assert_eq!(e.status, 200, "{}", e.body);
    e.body["publicip"]["public_ip_address"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_local_clouds_hand_out_different_addresses() {
    if !prerequisites(&[SSH_CLIENT]) {
        return;
    }
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for d in [&a_dir, &b_dir] {
        std::fs::set_permissions(d.path(), std::os::unix::fs::PermissionsExt::from_mode(0o711)).unwrap();
    }
    let a = start_sandboxed(a_dir.path()).await;
    let b = start_sandboxed(b_dir.path()).await;
    let (a_ip, a_cidr, a_key) = server(&a, a_dir.path(), "node-a").await;
    let (b_ip, b_cidr, b_key) = server(&b, b_dir.path(), "node-b").await;
    assert_ne!(a_cidr, b_cidr, "both clouds use {a_cidr}");
    assert_ne!(a_ip, b_ip);
    let (a_eip, b_eip) = (eip(&a).await, eip(&b).await);
    assert_ne!(a_eip, b_eip, "both clouds hand out EIP {a_eip}");
    // The EIP's third octet is the block the subnet's is.
    let third = |ip: &str| ip.split('.').nth(2).unwrap().to_string();
    assert_eq!(third(&a_eip), third(&a_ip));
    assert_eq!(third(&b_eip), third(&b_ip));
    {
        let (a_ip, b_ip) = (a_ip.clone(), b_ip.clone());
        tokio::task::spawn_blocking(move || {
            assert_eq!(ssh_ok(&a_key, &a_ip, "hostname"), "node-a");
            assert_eq!(ssh_ok(&b_key, &b_ip, "hostname"), "node-b");
        })
        .await
        .unwrap();
    }
    // A restart keeps the cloud's block, so its servers keep addresses in its subnet.
    a.shutdown().await;
    let a = start_sandboxed(a_dir.path()).await;
    let c = Client::new(&a);
    let subnets = c.get(&a, V, "/v1/{pid}/subnets").await;
    assert_eq!(subnets.body["subnets"][0]["cidr"], a_cidr.as_str());
    a.shutdown().await;
    b.shutdown().await;
}
