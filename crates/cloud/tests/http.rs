//! The client over real HTTP: an in-test axum server checks every request's signature with
//! `signer::verify` and answers from a script, so retries, the create-then-look-up rule, the
//! job waiter and the rate limiter are exercised on the wire.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cce_cloud::models::{CreatedImage, EipCreate, ImageCreate, ImageQuery, NicSpec, RootVolume, ServerCreate, VpcCreate};
use cce_cloud::{Client, CloudError, RateLimit, Service, VirtualTimer, WaitPolicy};
use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn requests_are_signed_and_carry_the_expected_headers() {
    let srv = serve(|_, _| (200, json!({"images": [{"id": "img-1", "name": "node image 1.0", "status": "active", "min_disk": 40}]}))).await;
    let (c, _) = client(&srv.url);
    let q = ImageQuery { name: Some("node image 1.0".into()), image_type: Some("private".into()), other: vec![("tag".into(), "k=v/ü".into())], ..Default::default() };
    let images = c.list_images(&q).await.unwrap();
    assert_eq!(images[0].id, "img-1");
    assert_eq!(images[0].min_disk, Some(40));
    let s = &srv.seen()[0];
    assert_eq!(s.path, "/v2/cloudimages");
    // The wire query is the canonical one, so what was signed is what arrived.
    assert_eq!(s.raw_query, "__imagetype=private&name=node%20image%201.0&tag=k%3Dv%2F%C3%BC");
    assert_eq!(s.header("x-project-id"), Some(PID));
    assert_eq!(s.header("content-type"), Some("application/json;charset=UTF-8"));
    assert!(s.header("user-agent").unwrap().starts_with("cce-image-builder/"));
    let auth = s.header("authorization").unwrap();
    assert!(auth.contains("SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date"), "{auth}");
    assert_eq!(srv.count("GET", ""), 1);
}

#[tokio::test]
async fn a_bad_signature_is_refused_and_not_retried() {
    let srv = serve(|_, _| (200, json!({}))).await;
    let timer = Arc::new(VirtualTimer::default());
    let mut cfg = config(&srv.url, timer);
    cfg.credentials.secret_key = "wrong".into();
    let c = Client::new(cfg).unwrap();
    let err = c.show_vpc("v1").await.unwrap_err();
    assert!(err.is_auth(), "{err}");
    assert!(err.to_string().starts_with("vpc show vpc: 401 APIGW.0301 Incorrect IAM authentication information: signature does not match (request id req-0)"), "{err}");
    assert_eq!(srv.seen().len(), 1);
}

#[tokio::test]
async fn project_lookup_is_unscoped_and_needs_exactly_one_match() {
    let srv = serve(|s, _| {
        let name = s.query.iter().find(|(k, _)| k == "name").map(|(_, v)| v.clone()).unwrap_or_default();
        let projects = match name.as_str() {
            "ru-moscow-1" => json!([{"id": "p-1", "name": "ru-moscow-1"}]),
            "dup" => json!([{"id": "a", "name": "dup"}, {"id": "b", "name": "dup"}]),
            _ => json!([]),
        };
        (200, json!({"projects": projects, "links": {}}))
    })
    .await;
    let timer = Arc::new(VirtualTimer::default());
    let mut cfg = config(&srv.url, timer);
    cfg.project_id = None;
    let c = Client::new(cfg).unwrap();
    let err = c.show_vpc("x").await.unwrap_err();
    assert!(err.to_string().contains("project id is not known"), "{err}");
    assert!(srv.seen().is_empty());
    let (pid, scoped) = c.resolve_project("ru-moscow-1").await.unwrap();
    assert_eq!((pid.as_str(), scoped.project_id()), ("p-1", Some("p-1")));
    assert_eq!(srv.seen()[0].header("x-project-id"), None);
    assert_eq!(srv.seen()[0].path, "/v3/projects");
    assert!(matches!(c.resolve_project("none").await, Err(CloudError::NotFound(_))));
    let err = c.resolve_project("dup").await.unwrap_err().to_string();
    assert!(err.contains("2 projects are named \"dup\""), "{err}");
}

#[tokio::test]
async fn idempotent_calls_retry_429_and_503_then_succeed() {
    let srv = serve(|_, n| match n {
        0 => (429, json!({"error_code": "APIGW.0308", "error_msg": "The throttling threshold has been reached"})),
        1 => (503, json!({"error": {"code": "Ecs.0002", "message": "system error"}})),
        _ => (200, json!({"server": {"id": "s-1", "name": "n", "status": "ACTIVE"}})),
    })
    .await;
    let (c, timer) = client(&srv.url);
    let s = c.show_server("s-1").await.unwrap();
    assert_eq!(s.status, "ACTIVE");
    assert_eq!(srv.seen().len(), 3);
    let sleeps = timer.sleeps();
    assert_eq!(sleeps.len(), 2);
    assert_eq!(sleeps[0], Duration::from_secs(7), "the 429's Retry-After: 7 wins over a shorter backoff");
    assert!(sleeps[1] >= Duration::from_secs(1) && sleeps[1] <= Duration::from_secs(2), "{sleeps:?}");
}

#[tokio::test]
async fn retries_stop_at_max_attempts_with_the_last_error() {
    let srv = serve(|_, _| (503, json!({"code": "VPC.9999", "message": "busy"}))).await;
    let (c, timer) = client(&srv.url);
    let err = c.show_vpc("v-1").await.unwrap_err();
    assert_eq!(err.to_string(), "vpc show vpc: 503 VPC.9999 busy (request id req-3)");
    assert_eq!(srv.seen().len(), 4);
    assert_eq!(timer.sleeps().len(), 3);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_404_is_recognised() {
    let srv = serve(|_, _| (404, json!({"itemNotFound": {"code": 404, "message": "Instance could not be found"}}))).await;
    let (c, _) = client(&srv.url);
    let err = c.show_server("gone").await.unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(err.to_string(), "ecs show server: 404 Instance could not be found (request id req-0)");
    assert_eq!(srv.seen().len(), 1);
    // A waiter for DELETED takes the 404 as done.
    let gone = c.wait_server("gone", &["DELETED"], &WaitPolicy::default()).await.unwrap();
    assert!(gone.is_none());
}

fn server_body() -> ServerCreate {
    ServerCreate {
        name: "cce-build-abc".into(),
        image_ref: "img".into(),
        flavor_ref: "s6.large.2".into(),
        vpcid: "vpc".into(),
        nics: vec![NicSpec { subnet_id: "net".into(), ip_address: None }],
        root_volume: RootVolume { volumetype: "SSD".into(), size: Some(40) },
        ..Default::default()
    }
}

#[tokio::test]
async fn create_on_500_is_not_repeated_but_found_by_name() {
    let srv = serve(|s, _| match (s.method.as_str(), s.path.as_str()) {
        ("POST", p) if p.ends_with("/cloudservers") => (500, json!({"error": {"code": "Ecs.0002", "message": "system error"}})),
        ("GET", p) if p.ends_with("/cloudservers/detail") => {
            let name = s.query.iter().find(|(k, _)| k == "name").map(|(_, v)| v.clone());
            assert_eq!(name.as_deref(), Some("cce-build-abc"));
            (200, json!({"count": 1, "servers": [{"id": "srv-9", "name": "cce-build-abc", "status": "BUILD"}]}))
        }
        _ => (404, json!({})),
    })
    .await;
    let (c, _) = client(&srv.url);
    let created = c.create_server_v1(&server_body()).await.unwrap();
    assert_eq!(created.job_id, None);
    assert_eq!(created.server_ids, vec!["srv-9".to_string()]);
    assert_eq!(srv.count("POST", "/cloudservers"), 1, "a create must never be sent twice");
    let post = srv.seen().into_iter().find(|s| s.method == "POST").unwrap();
    assert_eq!(post.path, format!("/v1/{PID}/cloudservers"));
    assert_eq!(post.json()["server"]["extendparam"]["chargingMode"], json!(0));
}

#[tokio::test]
async fn create_on_500_with_nothing_found_reports_the_uncertainty() {
    let srv = serve(|s, _| match s.method.as_str() {
        "POST" => (502, json!({"error_code": "APIGW.0205", "error_msg": "bad gateway"})),
        _ => (200, json!({"vpcs": [{"id": "other", "name": "someone-else", "status": "OK"}]})),
    })
    .await;
    let (c, _) = client(&srv.url);
    let err = c.create_vpc(&VpcCreate { name: "vpc-cce-1".into(), cidr: "172.16.0.0/16".into(), ..Default::default() }).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, CloudError::CreateUncertain { .. }), "{msg}");
    assert!(msg.contains("vpc create vpc") && msg.contains("\"vpc-cce-1\"") && msg.contains("502"), "{msg}");
    assert_eq!(srv.count("POST", "/vpcs"), 1);
    assert_eq!(srv.count("GET", "/vpcs"), 3, "three lookups (create_lookup_attempts)");
}

#[tokio::test]
async fn create_on_400_fails_without_lookup() {
    let srv = serve(|_, _| (400, json!({"error": {"code": "Ecs.0001", "message": "quota exceeded"}}))).await;
    let (c, _) = client(&srv.url);
    let err = c.create_server_v1_1(&server_body()).await.unwrap_err();
    assert_eq!(err.to_string(), "ecs create server: 400 Ecs.0001 quota exceeded (request id req-0)");
    assert_eq!(srv.seen().len(), 1);
    assert_eq!(srv.seen()[0].json()["server"]["extendparam"]["chargingMode"], json!("postPaid"));
    assert!(srv.seen()[0].path.starts_with("/v1.1/"));
}

#[tokio::test]
async fn create_throttled_by_the_gateway_is_retried() {
    let srv = serve(|_, n| match n {
        0 => (429, json!({"error_code": "APIGW.0308", "error_msg": "throttled"})),
        _ => (200, json!({"publicip": {"id": "eip-1", "status": "PENDING_CREATE", "alias": "cce-eip"}})),
    })
    .await;
    let (c, _) = client(&srv.url);
    let eip = c.create_eip(&EipCreate::new("cce-eip", 5)).await.unwrap();
    assert_eq!(eip.id, "eip-1");
    assert_eq!(srv.count("POST", "/publicips"), 2);
    assert_eq!(srv.seen()[1].json()["bandwidth"]["share_type"], json!("PER"));
}

#[tokio::test]
async fn image_create_after_500_finds_the_image_by_name() {
    let srv = serve(|s, _| match s.method.as_str() {
        "POST" => (500, json!({"error": {"code": "IMG.0001", "message": "internal"}})),
        _ => (200, json!({"images": [{"id": "img-7", "name": "cce-node-1", "status": "saving"}]})),
    })
    .await;
    let (c, _) = client(&srv.url);
    let image = ImageCreate { name: "cce-node-1".into(), instance_id: "srv".into(), ..Default::default() };
    assert_eq!(c.create_image(&image).await.unwrap(), CreatedImage::Existing("img-7".into()));
    assert_eq!(srv.count("POST", "/v2/cloudimages/action"), 1);
}

fn job(status: &str, entities: Value) -> Value {
    json!({"job_id": "job-1", "job_type": "createServer", "status": status, "entities": entities, "error_code": null, "fail_reason": null})
}

#[tokio::test]
async fn job_waiter_starts_fast_and_returns_the_server_id() {
    let srv = serve(|s, n| {
        assert_eq!(s.path, format!("/v1/{PID}/jobs/job-1"));
        match n {
            0 | 1 => (200, job("RUNNING", json!({"sub_jobs_total": 1, "sub_jobs": []}))),
            _ => (200, job("SUCCESS", json!({"sub_jobs": [{"status": "SUCCESS", "entities": {"server_id": "srv-1"}}]}))),
        }
    })
    .await;
    let (c, timer) = client(&srv.url);
    let j = c.wait_job(Service::Ecs, "job-1", &WaitPolicy::default()).await.unwrap();
    assert_eq!(j.server_id(), Some("srv-1"));
    assert_eq!(timer.sleeps(), vec![Duration::from_millis(200), Duration::from_millis(400)]);
}

#[tokio::test]
async fn job_waiter_reports_the_fail_reason() {
    let srv = serve(|_, _| {
        (200, json!({"job_id": "job-1", "job_type": "createImage", "status": "FAIL", "error_code": "IMS.0130", "fail_reason": "the server is not stopped", "entities": {}}))
    })
    .await;
    let (c, _) = client(&srv.url);
    let err = c.wait_job(Service::Ims, "job-1", &WaitPolicy::default()).await.unwrap_err();
    assert_eq!(err.to_string(), "ims job job-1 (createImage) failed with code IMS.0130: the server is not stopped");
}

#[tokio::test]
async fn job_waiter_times_out_naming_the_job_and_status() {
    let srv = serve(|_, _| (200, job("RUNNING", json!({})))).await;
    let (c, timer) = client(&srv.url);
    let err = c.wait_job(Service::Ecs, "job-1", &WaitPolicy::with_timeout(Duration::from_secs(20))).await.unwrap_err();
    assert_eq!(err.to_string(), "timed out after 20s waiting for ecs job job-1; last status: job status RUNNING");
    assert_eq!(timer.elapsed(), Duration::from_secs(20));
}

#[tokio::test]
async fn job_waiter_keeps_polling_through_transient_errors() {
    let srv = serve(|_, n| match n {
        0..=5 => (503, json!({"error_msg": "busy", "error_code": "SYS.0503"})),
        _ => (200, job("SUCCESS", json!({"image_id": "img-1"}))),
    })
    .await;
    let (c, _) = client(&srv.url);
    let j = c.wait_job(Service::Ims, "job-1", &WaitPolicy::default()).await.unwrap();
    assert_eq!(j.image_id(), Some("img-1"));
    assert_eq!(srv.seen().len(), 7);
}

#[tokio::test]
async fn rate_limiter_holds_across_clones() {
    let srv = serve(|_, _| (200, json!({"vpc": {"id": "v", "name": "v", "status": "OK"}}))).await;
    let mut cfg = config(&srv.url, Arc::new(VirtualTimer::default()));
    cfg.timer = Arc::new(cce_cloud::TokioTimer);
    cfg.rate_limit = RateLimit { per_second: 10.0, burst: 1 };
    let c = Client::new(cfg).unwrap();
    let started = Instant::now();
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.show_vpc("v").await.map(|_| ()) })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let seen = srv.seen();
    assert_eq!(seen.len(), 6);
    let span = seen.last().unwrap().at - seen.first().unwrap().at;
    assert!(span >= Duration::from_millis(450), "6 requests at 10/s with burst 1 span ≥ 0.5 s, got {span:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// A raw TCP server that drops the first `drop_first` connections after reading a request,
/// then answers every request with `answer`.
async fn resetting_server(drop_first: usize, answer: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = lines.clone();
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 65536];
            let mut got = 0;
            // Read the head and the body announced by Content-Length.
            loop {
                let r = sock.read(&mut buf[got..]).await.unwrap_or(0);
                if r == 0 {
                    break;
                }
                got += r;
                let text = String::from_utf8_lossy(&buf[..got]).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0)))
                        .unwrap_or(0);
                    if got >= end + 4 + len {
                        break;
                    }
                }
            }
            let first_line = String::from_utf8_lossy(&buf[..got]).lines().next().unwrap_or("").to_string();
            log.lock().unwrap().push(first_line);
            n += 1;
            if n <= drop_first {
                // Linger 0 makes the close an RST (a real reset); with 0 it cannot block.
                #[allow(deprecated)]
                let _ = sock.set_linger(Some(Duration::ZERO));
                drop(sock);
                continue;
            }
            let resp = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}", answer.len());
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    (url, lines)
}

#[tokio::test]
async fn connection_reset_is_retried_for_reads() {
    let (url, lines) = resetting_server(2, r#"{"vpc": {"id": "v-1", "name": "n", "status": "OK"}}"#).await;
    let (c, timer) = client(&url);
    assert_eq!(c.show_vpc("v-1").await.unwrap().id, "v-1");
    assert_eq!(lines.lock().unwrap().len(), 3);
    assert_eq!(timer.sleeps().len(), 2);
}

#[tokio::test]
async fn connection_reset_on_create_looks_up_instead_of_resending() {
    let (url, lines) = resetting_server(1, r#"{"count": 1, "servers": [{"id": "srv-5", "name": "cce-build-abc", "status": "ACTIVE"}]}"#).await;
    let (c, _) = client(&url);
    let created = c.create_server_v1(&server_body()).await.unwrap();
    assert_eq!(created.server_ids, vec!["srv-5".to_string()]);
    let lines = lines.lock().unwrap().clone();
    assert_eq!(lines.iter().filter(|l| l.starts_with("POST")).count(), 1, "{lines:?}");
    assert!(lines[1].starts_with(&format!("GET /v1/{PID}/cloudservers/detail?name=cce-build-abc")), "{lines:?}");
}

#[tokio::test]
async fn refused_connections_are_retried_then_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let (c, timer) = client(&url);
    let err = c.show_vpc("v").await.unwrap_err();
    assert!(err.to_string().starts_with("vpc show vpc: connection failed"), "{err}");
    assert_eq!(timer.sleeps().len(), 3);
}

#[tokio::test]
async fn lists_follow_markers_and_survive_a_server_that_ignores_them() {
    // 230 EIPs served in pages of at most 100 by marker.
    let all: Vec<String> = (0..230).map(|i| format!("eip-{i:03}")).collect();
    let ids = all.clone();
    let srv = serve(move |s, _| {
        let marker = s.query.iter().find(|(k, _)| k == "marker").map(|(_, v)| v.clone());
        let start = marker.map(|m| ids.iter().position(|i| *i == m).unwrap() + 1).unwrap_or(0);
        let page: Vec<Value> = ids[start..].iter().take(100).map(|id| json!({"id": id, "status": "DOWN"})).collect();
        (200, json!({"publicips": page}))
    })
    .await;
    let (c, _) = client(&srv.url);
    let eips = c.list_eips().await.unwrap();
    assert_eq!(eips.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), all);
    assert_eq!(srv.seen().len(), 3);
    assert!(srv.seen()[0].raw_query.contains("limit=100"));

    let ignoring = serve(|_, _| {
        let page: Vec<Value> = (0..100).map(|i| json!({"id": format!("v-{i}"), "name": "n", "status": "OK"})).collect();
        (200, json!({"vpcs": page}))
    })
    .await;
    let (c, _) = client(&ignoring.url);
    assert_eq!(c.list_vpcs().await.unwrap().len(), 100);
    assert_eq!(ignoring.seen().len(), 2, "a page with nothing new ends the listing");
}

#[tokio::test]
async fn a_create_whose_caller_stops_waiting_still_lands_and_settle_waits_for_it() {
    use std::sync::atomic::{AtomicBool, Ordering};
    // The cloud takes a moment to answer a create, as it does under load; it only makes the
    // VPC if the connection is still there when it is done (a closed one cancels the handler).
    let made = Arc::new(AtomicBool::new(false));
    let flag = made.clone();
    let app = axum::Router::new().fallback(move || {
        let flag = flag.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(400)).await;
            flag.store(true, Ordering::SeqCst);
            axum::Json(json!({"vpc": {"id": "vpc-1", "name": "vpc-cce-1", "cidr": "172.16.0.0/16", "status": "OK"}}))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (c, _) = client(&url);
    assert!(c.settle_writes(Duration::from_secs(1)).await, "nothing on the wire yet");
    let vpc = VpcCreate { name: "vpc-cce-1".into(), cidr: "172.16.0.0/16".into(), ..Default::default() };
    // An interrupt: the caller gives up while the create is on the wire.
    let given_up = tokio::time::timeout(Duration::from_millis(50), c.create_vpc(&vpc)).await;
    assert!(given_up.is_err(), "the create answered before the caller gave up");
    assert!(!made.load(Ordering::SeqCst));
    assert!(c.settle_writes(Duration::from_secs(10)).await, "the create did not land");
    assert!(made.load(Ordering::SeqCst), "the create was cut off with its caller");
}
