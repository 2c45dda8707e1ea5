//! The `Cloud` trait over real HTTP: each engine-level operation (create + wait, delete until
//! gone, stop, image from server) against a scripted, signature-checking server.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cce_cloud::models::{ImageCreate, NicSpec, RootVolume, ServerCreate, SubnetCreate};
use cce_cloud::{Cloud, VirtualTimer, WaitPolicy, connect};
use common::*;
use serde_json::{Value, json};

/// Counts calls per "METHOD path" so scripts can answer the n-th call of each.
fn counter() -> impl Fn(&Seen) -> usize + Send + Sync {
    let counts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    move |s: &Seen| {
        let mut c = counts.lock().unwrap();
        let n = c.entry(format!("{} {}", s.method, s.path)).or_insert(0);
        *n += 1;
        *n - 1
    }
}

fn cloud(url: &str) -> Arc<dyn Cloud> {
    Arc::new(client(url).0)
}

#[tokio::test]
async fn create_server_waits_for_the_job_and_active() {
    let nth = counter();
    let srv = serve(move |s, _| {
        let n = nth(s);
        let p = s.path.as_str();
        match s.method.as_str() {
            "POST" if p.ends_with("/cloudservers") => (200, json!({"job_id": "j1", "serverIds": ["s1"]})),
            "GET" if p.ends_with("/jobs/j1") => match n {
                0 => (200, json!({"job_id": "j1", "status": "RUNNING", "entities": {}})),
                _ => (200, json!({"job_id": "j1", "status": "SUCCESS", "entities": {"sub_jobs": [{"status": "SUCCESS", "entities": {"server_id": "s1"}}]}})),
            },
            "GET" if p.ends_with("/cloudservers/s1") => {
                let status = if n == 0 { "BUILD" } else { "ACTIVE" };
                (200, json!({"server": {"id": "s1", "name": "b", "status": status, "addresses": {"vpc": [
                    {"addr": "172.16.0.9", "version": 4, "OS-EXT-IPS:type": "fixed"},
                    {"addr": "198.51.100.9", "version": 4, "OS-EXT-IPS:type": "floating"}]}}}))
            }
            _ => (404, json!({"error_msg": "no route", "error_code": "APIGW.0101"})),
        }
    })
    .await;
    let c = cloud(&srv.url);
    let body = ServerCreate {
        name: "b".into(),
        image_ref: "img".into(),
        flavor_ref: "f".into(),
        vpcid: "v".into(),
        nics: vec![NicSpec { subnet_id: "n".into(), ip_address: None }],
        root_volume: RootVolume { volumetype: "SSD".into(), size: None },
        ..Default::default()
    };
    let s = c.create_server(&body, &WaitPolicy::default()).await.unwrap();
    assert_eq!((s.id.as_str(), s.status.as_str(), s.floating_ip()), ("s1", "ACTIVE", Some("198.51.100.9")));
    assert_eq!(srv.count("POST", "/cloudservers"), 1);
    assert_eq!(srv.count("GET", "/jobs/j1"), 2);
    assert_eq!(srv.count("GET", "/cloudservers/s1"), 2);
}

#[tokio::test]
async fn stop_server_sends_soft_stop_and_waits_for_shutoff() {
    let nth = counter();
    let srv = serve(move |s, _| {
        let n = nth(s);
        match (s.method.as_str(), s.path.rsplit('/').next().unwrap_or("")) {
            ("GET", "s1") => (200, json!({"server": {"id": "s1", "status": if n < 2 { "ACTIVE" } else { "SHUTOFF" }}})),
            ("POST", "action") => {
                assert_eq!(s.json(), json!({"os-stop": {"type": "SOFT", "servers": [{"id": "s1"}]}}));
                (200, json!({"job_id": "j-stop"}))
            }
            ("GET", "j-stop") => (200, json!({"job_id": "j-stop", "status": "SUCCESS", "entities": {}})),
            _ => (404, json!({})),
        }
    })
    .await;
    let c = cloud(&srv.url);
    c.stop_server("s1", &WaitPolicy::default()).await.unwrap();
    assert_eq!(srv.count("POST", "/cloudservers/action"), 1);
}

#[tokio::test]
async fn delete_server_that_is_already_gone_succeeds() {
    let srv = serve(|_, _| (404, json!({"error": {"code": "Ecs.0114", "message": "server not found"}}))).await;
    let c = cloud(&srv.url);
    c.delete_server("gone", &WaitPolicy::default()).await.unwrap();
    let post = &srv.seen()[0];
    assert_eq!(post.json(), json!({"servers": [{"id": "gone"}], "delete_publicip": false, "delete_volume": true}));
}

#[tokio::test]
async fn delete_subnet_repeats_while_in_use_until_404() {
    let srv = serve(|s, n| {
        assert_eq!(s.path, format!("/v1/{PID}/vpcs/vpc-1/subnets/sub-1"));
        match n {
            0 | 1 => (409, json!({"code": "VPC.0204", "message": "subnet is still in use"})),
            2 => (204, Value::Null),
            _ => (404, json!({"code": "VPC.0202", "message": "subnet not found"})),
        }
    })
    .await;
    let c = cloud(&srv.url);
    c.delete_subnet("vpc-1", "sub-1", &WaitPolicy::default()).await.unwrap();
    assert_eq!(srv.count("DELETE", "/subnets/sub-1"), 4);
}

#[tokio::test]
async fn delete_subnet_times_out_when_always_in_use() {
    let srv = serve(|_, _| (409, json!({"code": "VPC.0204", "message": "in use"}))).await;
    let timer = Arc::new(VirtualTimer::default());
    let c = cce_cloud::Client::new(config(&srv.url, timer)).unwrap();
    let err = Cloud::delete_subnet(&c, "v", "s", &WaitPolicy::with_timeout(std::time::Duration::from_secs(60))).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("timed out after 60s waiting for subnet s to be deleted; last status: still in use: vpc delete subnet: 409 VPC.0204 in use"), "{msg}");
}

#[tokio::test]
async fn create_subnet_waits_for_active() {
    let nth = counter();
    let srv = serve(move |s, _| {
        let n = nth(s);
        match s.method.as_str() {
            "POST" => (200, json!({"subnet": {"id": "sub-1", "name": "subnet-cce", "status": "UNKNOWN", "vpc_id": "v"}})),
            _ => (200, json!({"subnet": {"id": "sub-1", "name": "subnet-cce", "status": if n == 0 { "UNKNOWN" } else { "ACTIVE" }, "vpc_id": "v"}})),
        }
    })
    .await;
    let c = cloud(&srv.url);
    let req = SubnetCreate { name: "subnet-cce".into(), cidr: "172.16.0.0/24".into(), gateway_ip: "172.16.0.1".into(), vpc_id: "v".into(), ..Default::default() };
    let s = c.create_subnet(&req, &WaitPolicy::default()).await.unwrap();
    assert_eq!(s.status, "ACTIVE");
    assert_eq!(srv.seen()[0].json()["subnet"]["gateway_ip"], json!("172.16.0.1"));
}

#[tokio::test]
async fn create_image_returns_the_image_of_the_job() {
    let srv = serve(|s, _| match s.method.as_str() {
        "POST" => {
            assert_eq!(s.path, "/v2/cloudimages/action");
            assert_eq!(s.header("x-project-id"), Some(PID));
            (200, json!({"job_id": "j-img"}))
        }
        _ => (200, json!({"job_id": "j-img", "status": "SUCCESS", "entities": {"image_id": "img-42"}})),
    })
    .await;
    let c = cloud(&srv.url);
    let req = ImageCreate { name: "cce-node".into(), instance_id: "s1".into(), ..Default::default() };
    assert_eq!(c.create_image(&req, &WaitPolicy::default()).await.unwrap(), "img-42");
    assert_eq!(srv.seen()[0].json(), json!({"name": "cce-node", "instance_id": "s1"}));
    assert_eq!(srv.seen()[1].path, format!("/v1/{PID}/jobs/j-img"));
}

#[tokio::test]
async fn share_image_posts_members_and_waits() {
    let srv = serve(|s, _| match s.method.as_str() {
        "POST" => (200, json!({"job_id": "j-share"})),
        _ => (200, json!({"job_id": "j-share", "status": "SUCCESS", "entities": {}})),
    })
    .await;
    let c = cloud(&srv.url);
    c.share_image("img-1", &["p2".to_string()], &WaitPolicy::default()).await.unwrap();
    assert_eq!(srv.seen()[0].path, "/v1/cloudimages/members");
    assert_eq!(srv.seen()[0].json(), json!({"images": ["img-1"], "projects": ["p2"]}));
}

#[tokio::test]
async fn connect_resolves_the_project_when_not_given() {
    let srv = serve(|s, _| match s.path.as_str() {
        "/v3/projects" => (200, json!({"projects": [{"id": "resolved", "name": "ru-moscow-1"}]})),
        _ => (200, json!({"availabilityZoneInfo": [{"zoneName": "ru-moscow-1a", "zoneState": {"available": true}}, {"zoneName": "ru-moscow-1b", "zoneState": {"available": false}}]})),
    })
    .await;
    let mut cfg = config(&srv.url, Arc::new(VirtualTimer::default()));
    cfg.project_id = None;
    let c = connect(cfg, "ru-moscow-1").await.unwrap();
    assert_eq!(Cloud::project_id(&c), Some("resolved"));
    let zones = Cloud::list_availability_zones(&c).await.unwrap();
    assert_eq!(zones.iter().filter(|z| z.available).map(|z| z.name.as_str()).collect::<Vec<_>>(), ["ru-moscow-1a"]);
    assert_eq!(srv.seen()[1].path, "/v2.1/resolved/os-availability-zone");
    assert_eq!(srv.seen()[1].header("x-project-id"), Some("resolved"));
}

#[tokio::test]
async fn security_group_check_reads_v1_rules() {
    let srv = serve(|_, _| {
        (200, json!({"security_group": {"id": "sg", "name": "default", "security_group_rules": [
            {"id": "r1", "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "203.0.113.0/24"},
            {"id": "r2", "direction": "egress", "ethertype": "IPv4", "protocol": null}]}}))
    })
    .await;
    let c = cloud(&srv.url);
    assert!(c.security_group_allows_tcp("sg", 22, "203.0.113.5".parse().unwrap()).await.unwrap());
    assert!(!c.security_group_allows_tcp("sg", 22, "192.0.2.5".parse().unwrap()).await.unwrap());
    assert!(!c.security_group_allows_tcp("sg", 443, "203.0.113.5".parse().unwrap()).await.unwrap());
}

#[tokio::test]
async fn endpoints_file_points_the_same_client_elsewhere() {
    let srv = serve(|s, _| {
        assert_eq!(s.path, "/v1/p-local/vpcs/v-1");
        (200, json!({"vpc": {"id": "v-1", "name": "n", "status": "OK"}}))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("endpoints.json");
    let line = json!({"endpoints": {"iam": srv.url, "ecs": srv.url, "ims": srv.url, "vpc": srv.url},
        "region": "ru-moscow-1", "project_id": "p-local", "access_key": AK, "secret_key": SK});
    std::fs::write(&file, format!("{line}\n")).unwrap();
    let env = HashMap::from([("CCE_ENDPOINTS_FILE".to_string(), file.display().to_string())]);
    let ep = cce_cloud::EndpointsFile::from_env(&env).unwrap().unwrap();
    let cfg = cce_cloud::ClientConfig::from_endpoints_file(&ep, &env).unwrap();
    let c: Arc<dyn Cloud> = Arc::new(connect(cfg, "ru-moscow-1").await.unwrap());
    assert_eq!(c.show_vpc("v-1").await.unwrap().status, "OK");
    assert_eq!(srv.seen().len(), 1, "the project id came from the file, no IAM call");
}
