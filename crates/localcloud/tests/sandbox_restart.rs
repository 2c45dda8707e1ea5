//! A local cloud with sandbox servers that is shut down and started again on the same state: the
//! shutdown stops every sandbox, and after the restart the server is SHUTOFF (as after a power
//! loss), starts again with its disk as it was, and can be deleted. Needs root (under `CI=true` a
//! missing prerequisite fails the test).

mod common;

use std::time::{Duration, Instant};

use cce_localcloud::Service;
use common::Client;
use common::sandbox::{
    SSH_CLIENT, default_network, fixed_ip, keypair_file, leftovers, prerequisites, server_body, ssh, ssh_ok, start_sandboxed,
    wait_status,
};
use serde_json::json;

const E: Service = Service::Ecs;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_servers_survive_a_restart_as_shutoff() {
    if !prerequisites(&[SSH_CLIENT]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let h = start_sandboxed(dir.path()).await;
    let c = Client::new(&h);
    let key = keypair_file(&c, &h, "kp-restart", dir.path()).await;
    let (subnet, gold) = default_network(&c, &h).await;
    let body = server_body(&subnet, &gold, "survivor", json!({"key_name": "kp-restart"}));
    let a = c.post(&h, E, "/v1/{pid}/cloudservers", &body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let id = a.body["serverIds"][0].as_str().unwrap().to_string();
    let server = wait_status(&c, &h, &id, "ACTIVE", Duration::from_secs(180)).await;
    let ip = fixed_ip(&server);
    ssh_ok(&key, &ip, "echo kept > /root/marker && sync");

    h.shutdown().await;
    assert!(leftovers(std::slice::from_ref(&id)).is_empty(), "shutdown stops every sandbox: {:?}", leftovers(std::slice::from_ref(&id)));
    assert_ne!(ssh(&key, &ip, "true").0, 0, "the forwarder is closed");

    let h = start_sandboxed(dir.path()).await;
    let c = Client::new(&h);
    let s = c.get(&h, E, &format!("/v1/{{pid}}/cloudservers/{id}")).await;
    assert_eq!(s.body["server"]["status"], "SHUTOFF", "{}", s.body);
    let st = c
        .post(&h, E, "/v1/{pid}/cloudservers/action", &json!({"os-start": {"servers": [{"id": id}]}}))
        .await;
    assert_eq!(st.status, 200, "{}", st.body);
    wait_status(&c, &h, &id, "ACTIVE", Duration::from_secs(180)).await;
    assert_eq!(ssh_ok(&key, &ip, "cat /root/marker"), "kept");

    let d = c.post(&h, E, "/v1/{pid}/cloudservers/delete", &json!({"servers": [{"id": id}]})).await;
    assert_eq!(d.status, 200, "{}", d.body);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let a = c.get(&h, E, &format!("/v1/{{pid}}/cloudservers/{id}")).await;
        let gone = a.status == 404 && leftovers(std::slice::from_ref(&id)).is_empty() && !dir.path().join("servers").join(&id).exists();
        if gone {
            break;
        }
        assert!(Instant::now() < deadline, "server {id} not gone: {}", a.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    h.shutdown().await;
}
