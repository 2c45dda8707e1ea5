//! A sandbox server that cannot be reached ends in ERROR with the reason, and its create job
//! fails with it: here something else already listens on the server's fixed IP port 22. Needs
//! root (under `CI=true` a missing prerequisite fails the test).

mod common;

use std::time::{Duration, Instant};

use cce_localcloud::Service;
use common::Client;
use common::sandbox::{default_network, prerequisites, server_body, start_sandboxed};
use serde_json::json;

const E: Service = Service::Ecs;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_ssh_address_is_taken_ends_in_error() {
    if !prerequisites(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let h = start_sandboxed(dir.path()).await;
    let c = Client::new(&h);
    let (subnet, gold) = default_network(&c, &h).await;
    // An address of this cloud's own block (`127.10.n.0/24`), which no other local cloud uses.
    let cidr = subnet["cidr"].as_str().unwrap();
    let addr = format!("{}.2", cidr.strip_suffix(".0/24").expect("a /24 subnet"));
    let squatter = std::net::TcpListener::bind(format!("{addr}:22")).expect("the address is free on this host");
    let nics = json!({"nics": [{"subnet_id": subnet["id"], "ip_address": addr}]});
    let a = c.post(&h, E, "/v1/{pid}/cloudservers", &server_body(&subnet, &gold, "blocked", nics)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let id = a.body["serverIds"][0].as_str().unwrap().to_string();
    let job = a.body["job_id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let server = loop {
        let s = c.get(&h, E, &format!("/v1/{{pid}}/cloudservers/{id}")).await;
        let st = s.body["server"]["status"].as_str().unwrap_or("").to_string();
        assert_ne!(st, "ACTIVE", "a server nobody can reach is not ACTIVE");
        if st == "ERROR" {
            break s.body["server"].clone();
        }
        assert!(Instant::now() < deadline, "server still {st}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let message = server["fault"]["message"].as_str().unwrap_or("").to_string();
    assert!(message.contains(&format!("cannot listen on {addr}:22")), "{message}");
    assert!(message.contains("0.0.0.0:22"), "the error names the usual culprit: {message}");
    let j = c.get(&h, E, &format!("/v1/{{pid}}/jobs/{job}")).await;
    assert_eq!(j.body["status"], "FAIL", "{}", j.body);
    assert!(j.body["fail_reason"].as_str().unwrap_or("").contains("cannot listen"), "{}", j.body);
    assert_eq!(j.body["entities"]["sub_jobs"][0]["status"], "FAIL", "{}", j.body);
    drop(squatter);

    let d = c.post(&h, E, "/v1/{pid}/cloudservers/delete", &json!({"servers": [{"id": id}]})).await;
    assert_eq!(d.status, 200, "{}", d.body);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = c.get(&h, E, &format!("/v1/{{pid}}/cloudservers/{id}")).await;
        if s.status == 404 && !dir.path().join("servers").join(&id).exists() {
            break;
        }
        assert!(Instant::now() < deadline, "server not gone: {}", s.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h.shutdown().await;
}
