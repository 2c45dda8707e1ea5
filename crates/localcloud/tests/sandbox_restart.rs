//! A local cloud with sandbox servers that is shut down and started again on the same state: the
//! shutdown stops every sandbox, and after the restart the server is SHUTOFF (as after a power
//! loss), starts again with its disk as it was, and can be deleted. Needs root (under `CI=true` a
//! missing prerequisite fails the test).

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cce_localcloud::{Config, LocalCloud, LocalCloudHandle, SandboxBackend, SandboxConfig, Service};
use common::Client;
use common::sandbox::{fixed_ip, leftovers, ssh, ssh_ok, wait_status};
use serde_json::json;

const E: Service = Service::Ecs;
const M: Service = Service::Ims;
const V: Service = Service::Vpc;

fn prerequisites() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let missing = match cce_sandbox::host_supports_sandboxes() {
        Err(e) => Some(e.to_string()),
        Ok(()) if Command::new("ssh").arg("-V").output().is_err() => {
            Some("the OpenSSH client `ssh` is not installed".into())
        }
        Ok(()) => None,
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

async fn start(dir: &Path) -> LocalCloudHandle {
    let backend = SandboxBackend::new(
        SandboxConfig::new(dir, |k| std::env::var(k).ok()),
        tokio::runtime::Handle::current(),
    );
    LocalCloud::start_with_backend(Config::new(dir), Arc::new(backend))
        .await
        .expect("local cloud starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_servers_survive_a_restart_as_shutoff() {
    if !prerequisites() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path()).await;
    let c = Client::new(&h);
    let kp = c
        .call(&h, E, "POST", "/v2.1/{pid}/os-keypairs", &[], Some(&json!({"keypair": {"name": "kp-restart"}})))
        .await;
    assert_eq!(kp.status, 200, "{}", kp.body);
    let key = dir.path().join("id_kp");
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&key).unwrap();
        f.write_all(kp.body["keypair"]["private_key"].as_str().unwrap().as_bytes()).unwrap();
    }
    let subnets = c.call(&h, V, "GET", "/v1/{pid}/subnets", &[], None).await;
    let subnet = &subnets.body["subnets"][0];
    let gold = c
        .call(&h, M, "GET", "/v2/cloudimages", &[("__imagetype", "gold"), ("name", "Debian 12 (local sandbox rootfs)")], None)
        .await;
    let a = c
        .call(&h, E, "POST", "/v1/{pid}/cloudservers", &[], Some(&json!({"server": {
            "name": "survivor", "imageRef": gold.body["images"][0]["id"], "flavorRef": "s7n.large.2",
            "vpcid": subnet["vpc_id"], "nics": [{"subnet_id": subnet["id"]}], "key_name": "kp-restart",
            "availability_zone": "ru-moscow-1a", "root_volume": {"volumetype": "SSD", "size": 40},
            "extendparam": {"chargingMode": 0},
        }})))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let id = a.body["serverIds"][0].as_str().unwrap().to_string();
    let server = wait_status(&c, &h, &id, "ACTIVE", Duration::from_secs(180)).await;
    let ip = fixed_ip(&server);
    ssh_ok(&key, &ip, "echo kept > /root/marker && sync");

    h.shutdown().await;
    assert!(leftovers(std::slice::from_ref(&id)).is_empty(), "shutdown stops every sandbox: {:?}", leftovers(std::slice::from_ref(&id)));
    assert_ne!(ssh(&key, &ip, "true").0, 0, "the forwarder is closed");

    let h = start(dir.path()).await;
    let c = Client::new(&h);
    let s = c.call(&h, E, "GET", &format!("/v1/{{pid}}/cloudservers/{id}"), &[], None).await;
    assert_eq!(s.body["server"]["status"], "SHUTOFF", "{}", s.body);
    let st = c
        .call(&h, E, "POST", "/v1/{pid}/cloudservers/action", &[], Some(&json!({"os-start": {"servers": [{"id": id}]}})))
        .await;
    assert_eq!(st.status, 200, "{}", st.body);
    wait_status(&c, &h, &id, "ACTIVE", Duration::from_secs(180)).await;
    assert_eq!(ssh_ok(&key, &ip, "cat /root/marker"), "kept");

    let d = c
        .call(&h, E, "POST", "/v1/{pid}/cloudservers/delete", &[], Some(&json!({"servers": [{"id": id}]})))
        .await;
    assert_eq!(d.status, 200, "{}", d.body);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let a = c.call(&h, E, "GET", &format!("/v1/{{pid}}/cloudservers/{id}"), &[], None).await;
        let gone = a.status == 404 && leftovers(std::slice::from_ref(&id)).is_empty() && !dir.path().join("servers").join(&id).exists();
        if gone {
            break;
        }
        assert!(Instant::now() < deadline, "server {id} not gone: {}", a.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    h.shutdown().await;
}
