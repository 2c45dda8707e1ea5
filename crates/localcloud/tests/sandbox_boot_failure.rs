//! A sandbox server that cannot be reached ends in ERROR with the reason, and its create job
//! fails with it: here something else already listens on the server's fixed IP port 22. Needs
//! root (under `CI=true` a missing prerequisite fails the test).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cce_localcloud::{Config, LocalCloud, SandboxBackend, SandboxConfig, Service};
use common::Client;
use serde_json::json;

const E: Service = Service::Ecs;
const M: Service = Service::Ims;
const V: Service = Service::Vpc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_ssh_address_is_taken_ends_in_error() {
    if let Err(e) = cce_sandbox::host_supports_sandboxes() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true and local-cloud sandboxes cannot run: {e}");
        }
        eprintln!("skipping: {e}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let backend = SandboxBackend::new(
        SandboxConfig::new(dir.path(), |k| std::env::var(k).ok()),
        tokio::runtime::Handle::current(),
    );
    let h = LocalCloud::start_with_backend(Config::new(dir.path()), Arc::new(backend))
        .await
        .expect("local cloud starts");
    let c = Client::new(&h);
    let subnets = c.call(&h, V, "GET", "/v1/{pid}/subnets", &[], None).await;
    let subnet = &subnets.body["subnets"][0];
    // An address of this cloud's own block (`127.10.n.0/24`), which no other local cloud uses.
    let cidr = subnet["cidr"].as_str().unwrap();
    let addr = format!("{}.2", cidr.strip_suffix(".0/24").expect("a /24 subnet"));
    let squatter = std::net::TcpListener::bind(format!("{addr}:22")).expect("the address is free on this host");
    let gold = c
        .call(&h, M, "GET", "/v2/cloudimages", &[("__imagetype", "gold"), ("name", "Debian 12 (local sandbox rootfs)")], None)
        .await;
    let a = c
        .call(&h, E, "POST", "/v1/{pid}/cloudservers", &[], Some(&json!({"server": {
            "name": "blocked", "imageRef": gold.body["images"][0]["id"], "flavorRef": "s7n.large.2",
            "vpcid": subnet["vpc_id"], "nics": [{"subnet_id": subnet["id"], "ip_address": addr}],
            "availability_zone": "ru-moscow-1a", "root_volume": {"volumetype": "SSD", "size": 40},
            "extendparam": {"chargingMode": 0},
        }})))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let id = a.body["serverIds"][0].as_str().unwrap().to_string();
    let job = a.body["job_id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let server = loop {
        let s = c.call(&h, E, "GET", &format!("/v1/{{pid}}/cloudservers/{id}"), &[], None).await;
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
    let j = c.call(&h, E, "GET", &format!("/v1/{{pid}}/jobs/{job}"), &[], None).await;
    assert_eq!(j.body["status"], "FAIL", "{}", j.body);
    assert!(j.body["fail_reason"].as_str().unwrap_or("").contains("cannot listen"), "{}", j.body);
    assert_eq!(j.body["entities"]["sub_jobs"][0]["status"], "FAIL", "{}", j.body);
    drop(squatter);

    let d = c
        .call(&h, E, "POST", "/v1/{pid}/cloudservers/delete", &[], Some(&json!({"servers": [{"id": id}]})))
        .await;
    assert_eq!(d.status, 200, "{}", d.body);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = c.call(&h, E, "GET", &format!("/v1/{{pid}}/cloudservers/{id}"), &[], None).await;
        if s.status == 404 && !dir.path().join("servers").join(&id).exists() {
            break;
        }
        assert!(Instant::now() < deadline, "server not gone: {}", s.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h.shutdown().await;
}
