//! The local cloud through its real HTTP front with real signing: signature refusals, unknown
//! paths and fields, state machines by time, fault injection, quotas and persistence.

mod common;

use std::time::Duration;

use cce_localcloud::{Config, Profile, Service};
use common::{Answer, Client, start, start_with};
use serde_json::{Value, json};

const E: Service = Service::Ecs;
const M: Service = Service::Ims;
const V: Service = Service::Vpc;

async fn network(c: &Client, h: &cce_localcloud::LocalCloudHandle) -> (String, String, String) {
    let subnets = c.get(h, V, "/v1/{pid}/subnets").await;
    let s = &subnets.body["subnets"][0];
    let sgs = c.get(h, V, "/v1/{pid}/security-groups").await;
    let sg = sgs.body["security_groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "default")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    (
        s["vpc_id"].as_str().unwrap().to_string(),
        s["id"].as_str().unwrap().to_string(),
        sg,
    )
}

async fn gold_image(c: &Client, h: &cce_localcloud::LocalCloudHandle) -> String {
    let a = c
        .get_query(
            h,
            M,
            "/v2/cloudimages",
            &[
                ("__imagetype", "gold"),
                ("name", "Debian 12 (local sandbox rootfs)"),
            ],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["images"][0]["id"].as_str().unwrap().to_string()
}

fn server_body(vpc: &str, subnet: &str, sg: &str, image: &str, name: &str) -> Value {
    json!({"server": {
        "name": name, "imageRef": image, "flavorRef": "s7n.large.2", "vpcid": vpc,
        "nics": [{"subnet_id": subnet}], "security_groups": [{"id": sg}],
        "availability_zone": "ru-moscow-1a", "root_volume": {"volumetype": "SSD", "size": 40},
        "extendparam": {"chargingMode": 0},
    }})
}

async fn create_server(
    c: &Client,
    h: &cce_localcloud::LocalCloudHandle,
    name: &str,
) -> (Answer, String) {
    let (vpc, subnet, sg) = network(c, h).await;
    let image = gold_image(c, h).await;
    let a = c
        .post(
            h,
            E,
            "/v1/{pid}/cloudservers",
            &server_body(&vpc, &subnet, &sg, &image, name),
        )
        .await;
    let id = a.body["serverIds"][0].as_str().unwrap_or("").to_string();
    (a, id)
}

async fn wait_job(
    c: &Client,
    h: &cce_localcloud::LocalCloudHandle,
    service: Service,
    job: &str,
) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let a = c.get(h, service, &format!("/v1/{{pid}}/jobs/{job}")).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let st = a.body["status"].as_str().unwrap().to_string();
        if st == "SUCCESS" || st == "FAIL" {
            return a.body;
        }
        assert!(std::time::Instant::now() < deadline, "job {job} still {st}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn signatures_are_checked_like_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path()).await;
    let good = Client::new(&h);
    let a = good.get(&h, E, "/v2.1/{pid}/os-availability-zone").await;
    assert_eq!(a.status, 200);
    let zones: Vec<&str> = a.body["availabilityZoneInfo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["zoneName"].as_str().unwrap())
        .collect();
    assert_eq!(
        zones,
        [
            "ru-moscow-1a",
            "ru-moscow-1b",
            "ru-moscow-1c",
            "ru-moscow-1e"
        ]
    );

    // An unknown API is a 404 even unsigned, as the gateway answers.
    let r = reqwest::get(format!("{}/v9/nothing", h.endpoint(E)))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);

    let mut wrong = Client::new(&h);
    wrong.creds.secret_key = "not-the-secret".into();
    let a = wrong.get(&h, E, "/v2.1/{pid}/os-availability-zone").await;
    assert_eq!(a.status, 401);
    assert_eq!(a.body["error_code"], "APIGW.0301");
    assert_eq!(
        a.body["error_msg"],
        "Incorrect IAM authentication information: verify aksk signature fail"
    );
    assert_eq!(a.body["request_id"].as_str(), a.request_id.as_deref());

    let mut unknown = Client::new(&h);
    unknown.creds.access_key = "UNKNOWNAK".into();
    assert_eq!(
        unknown
            .get(&h, E, "/v1/{pid}/cloudservers/flavors")
            .await
            .status,
        401
    );

    let mut skewed = Client::new(&h);
    skewed.skew = time::Duration::minutes(16);
    assert_eq!(
        skewed
            .get(&h, E, "/v1/{pid}/cloudservers/flavors")
            .await
            .status,
        401
    );
    skewed.skew = time::Duration::minutes(-14);
    assert_eq!(
        skewed
            .get(&h, E, "/v1/{pid}/cloudservers/flavors")
            .await
            .status,
        200
    );

    // Missing Authorization, and a body changed after signing.
    let url = format!("{}/v1/{}/cloudservers/flavors", h.endpoint(E), h.project_id);
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().get("x-request-id").is_some());
    let req = good.signed_request(
        &h,
        E,
        "POST",
        "/v1/{pid}/cloudservers/delete",
        br#"{"servers":[]}"#,
    );
    let r = req
        .body(r#"{"servers":[{"id":"x"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    h.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_fields_and_projects_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path()).await;
    let c = Client::new(&h);
    let a = c.get(&h, E, "/v1/{pid}/no-such-thing").await;
    assert_eq!(a.status, 404);
    assert_eq!(a.body["error_code"], "APIGW.0101");
    assert!(a.request_id.is_some());
    // IMS paths are not on the ECS listener.
    assert_eq!(c.get(&h, E, "/v2/cloudimages").await.status, 404);

    let (vpc, subnet, sg) = network(&c, &h).await;
    let image = gold_image(&c, &h).await;
    let mut body = server_body(&vpc, &subnet, &sg, &image, "typo");
    body["server"]["root_volume"]["volume_type"] = json!("SSD");
    let a = c.post(&h, E, "/v1/{pid}/cloudservers", &body).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["error"]["code"], "Ecs.0005");
    assert_eq!(
        a.body["error"]["message"],
        "unknown field `server.root_volume.volume_type` (did you mean `volumetype`?)"
    );

    let a = c
        .post(
            &h,
            M,
            "/v2/cloudimages/action",
            &json!({"name": "x", "instance": "y"}),
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(
        a.body["error"]["code"]
            .as_str()
            .unwrap()
            .starts_with("IMG."),
        "{}",
        a.body
    );

    let a = c.post(&h, V, "/v3/{pid}/vpc/security-group-rules", &json!({"security_group_rule": {"security_group_id": sg, "direction": "ingress", "port": 22}})).await;
    assert_eq!(a.status, 400);
    assert!(
        a.body["error_msg"]
            .as_str()
            .unwrap()
            .contains("`security_group_rule.port`"),
        "{}",
        a.body
    );

    let a = c.get(&h, E, "/v1/0000/cloudservers/detail").await;
    assert_eq!(a.status, 403);
    let a = c
        .get_query(&h, E, "/v1/{pid}/cloudservers/detail", &[("limit", "x")])
        .await;
    assert_eq!(a.status, 400);
    h.shutdown().await;
}

#[tokio::test]
async fn server_and_image_state_machines_follow_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::new(dir.path());
    // Windows long enough to see each intermediate state on a loaded machine, short enough
    // to keep the test quick.
    let s = Duration::from_millis;
    cfg.latency_override = Some(cce_localcloud::Latency {
        job_queue: s(1500),
        server_build: (s(3000), s(3000)),
        server_stop: (s(1500), s(1500)),
        server_start: (s(100), s(100)),
        server_delete: (s(100), s(100)),
        image_create: (s(1500), s(1500)),
        network_create: s(100),
    });
    let h = start_with(cfg).await;
    let c = Client::new(&h);
    let (a, id) = create_server(&c, &h, "sm-1").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let job = a.body["job_id"].as_str().unwrap().to_string();
    let first = c.get(&h, E, &format!("/v1/{{pid}}/jobs/{job}")).await;
    assert_eq!(first.body["status"], "INIT", "the queue lasts 1.5 s");
    let s = c
        .get(&h, E, &format!("/v1/{{pid}}/cloudservers/{id}"))
        .await;
    assert_eq!(s.body["server"]["status"], "BUILD");
    assert_eq!(s.body["server"]["OS-EXT-STS:vm_state"], "building");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let running = c.get(&h, E, &format!("/v1/{{pid}}/jobs/{job}")).await;
    assert_eq!(
        running.body["status"], "RUNNING",
        "queued 1.5 s, built by 4.5 s"
    );
    assert_eq!(running.body["end_time"], "");
    let done = wait_job(&c, &h, E, &job).await;
    assert_eq!(done["status"], "SUCCESS");
    assert_eq!(
        done["entities"]["sub_jobs"][0]["entities"]["server_id"],
        id.as_str()
    );
    assert_eq!(done["entities"]["sub_jobs_total"], 1);
    let s = c
        .get(&h, E, &format!("/v1/{{pid}}/cloudservers/{id}"))
        .await;
    assert_eq!(s.body["server"]["status"], "ACTIVE");
    assert_eq!(s.body["server"]["OS-EXT-STS:power_state"], 1);

    let stop = json!({"os-stop": {"type": "SOFT", "servers": [{"id": id}]}});
    let a = c.post(&h, E, "/v1/{pid}/cloudservers/action", &stop).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let s = c
        .get(&h, E, &format!("/v1/{{pid}}/cloudservers/{id}"))
        .await;
    assert_eq!(s.body["server"]["OS-EXT-STS:task_state"], "powering-off");
    // A second stop while one is under way conflicts.
    assert_eq!(
        c.post(&h, E, "/v1/{pid}/cloudservers/action", &stop)
            .await
            .status,
        409
    );
    wait_job(&c, &h, E, a.body["job_id"].as_str().unwrap()).await;
    let s = c
        .get(&h, E, &format!("/v1/{{pid}}/cloudservers/{id}"))
        .await;
    assert_eq!(s.body["server"]["status"], "SHUTOFF");
    assert_eq!(s.body["server"]["OS-EXT-STS:vm_state"], "stopped");

    let a = c.post(&h, M, "/v2/cloudimages/action", &json!({"name": "node-image-1", "instance_id": id, "image_tags": [{"key": "k", "value": "v"}]})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let ijob = a.body["job_id"].as_str().unwrap().to_string();
    // The ECS listener does not know IMS jobs.
    assert_eq!(
        c.get(&h, E, &format!("/v1/{{pid}}/jobs/{ijob}"))
            .await
            .status,
        404
    );
    let listed = c
        .get_query(&h, M, "/v2/cloudimages", &[("name", "node-image-1")])
        .await;
    assert_eq!(
        listed.body["images"][0]["status"], "queued",
        "the queue lasts 1.5 s"
    );
    let done = wait_job(&c, &h, M, &ijob).await;
    assert_eq!(done["status"], "SUCCESS");
    let image_id = done["entities"]["image_id"].as_str().unwrap().to_string();
    let listed = c
        .get_query(&h, M, "/v2/cloudimages", &[("id", &image_id)])
        .await;
    assert_eq!(listed.body["images"][0]["status"], "active");
    assert_eq!(listed.body["images"][0]["__imagetype"], "private");
    assert_eq!(listed.body["images"][0]["tags"], json!(["k=v"]));

    let patched = c
        .call(
            &h,
            M,
            "PATCH",
            &format!("/v2/cloudimages/{image_id}"),
            &[],
            Some(&json!([{"op": "replace", "path": "/name", "value": "node-image-1b"}])),
        )
        .await;
    assert_eq!(patched.body["name"], "node-image-1b", "{}", patched.body);
    let bad = c
        .call(
            &h,
            M,
            "PATCH",
            &format!("/v2/cloudimages/{image_id}"),
            &[],
            Some(&json!([{"op": "replace", "path": "/owner", "value": "x"}])),
        )
        .await;
    assert_eq!(bad.status, 400);
    let progress = c.get(&h, M, &format!("/v1/cloudimages/job/{ijob}")).await;
    assert_eq!(progress.body["status"], "SUCCESS");
    let glance = c.get_query(&h, M, "/v2/images", &[("id", &image_id)]).await;
    assert_eq!(glance.body["images"][0]["name"], "node-image-1b");

    let start_body = json!({"os-start": {"servers": [{"id": id}]}});
    let a = c
        .post(&h, E, "/v1/{pid}/cloudservers/action", &start_body)
        .await;
    wait_job(&c, &h, E, a.body["job_id"].as_str().unwrap()).await;
    let s = c
        .get(&h, E, &format!("/v1/{{pid}}/cloudservers/{id}"))
        .await;
    assert_eq!(s.body["server"]["status"], "ACTIVE");

    let a = c
        .post(
            &h,
            E,
            "/v1/{pid}/cloudservers/delete",
            &json!({"servers": [{"id": id}], "delete_publicip": true}),
        )
        .await;
    assert_eq!(a.status, 200);
    wait_job(&c, &h, E, a.body["job_id"].as_str().unwrap()).await;
    let s = c
        .get(&h, E, &format!("/v1/{{pid}}/cloudservers/{id}"))
        .await;
    assert_eq!(s.status, 404);
    assert_eq!(s.body["error"]["code"], "Ecs.0114");
    h.shutdown().await;
}

#[tokio::test]
async fn faults_from_the_admin_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path()).await;
    let c = Client::new(&h);
    let faults = json!({"faults": [
        {"op": "ListFlavors", "nth": 1, "kind": "status", "status": 503},
        {"op": "ListFlavors", "nth": 2, "kind": "throttle"},
        {"op": "ListFlavors", "nth": 3, "kind": "truncate"},
        {"op": "ListFlavors", "nth": 4, "kind": "malformed"},
        {"op": "ListFlavors", "nth": 5, "kind": "slow", "delay_ms": 300},
        {"op": "CreatePostPaidServers", "times": 1, "kind": "server_error"},
        {"op": "ims:CreateImage", "times": 1, "kind": "job_fail", "fail_reason": "snapshot failed"},
    ]});
    // The admin endpoint needs the same signature.
    let mut wrong = Client::new(&h);
    wrong.creds.secret_key = "x".into();
    assert_eq!(
        wrong.post(&h, E, "/_admin/faults", &faults).await.status,
        401
    );
    let a = c.post(&h, E, "/_admin/faults", &faults).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let bad = c
        .post(
            &h,
            E,
            "/_admin/faults",
            &json!({"faults": [{"op": "X", "kind": "boom"}]}),
        )
        .await;
    assert_eq!(bad.status, 400);

    let a = c.get(&h, E, "/v1/{pid}/cloudservers/flavors").await;
    assert_eq!(a.status, 503);
    let a = c.get(&h, E, "/v1/{pid}/cloudservers/flavors").await;
    assert_eq!(a.status, 429);
    assert_eq!(a.body["error_code"], "APIGW.0308");
    let a = c.get(&h, E, "/v1/{pid}/cloudservers/flavors").await;
    assert_eq!(a.status, 200);
    assert!(
        serde_json::from_slice::<Value>(&a.raw).is_err() && !a.raw.is_empty(),
        "truncated body must not parse"
    );
    let a = c.get(&h, E, "/v1/{pid}/cloudservers/flavors").await;
    assert!(serde_json::from_slice::<Value>(&a.raw).is_err());
    let t = std::time::Instant::now();
    let a = c.get(&h, E, "/v1/{pid}/cloudservers/flavors").await;
    assert_eq!(a.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert!(
        a.body["flavors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "s7n.large.2" && f["vcpus"] == "2" && f["ram"] == 4096)
    );

    let (a, id) = create_server(&c, &h, "faulty").await;
    assert_eq!(a.status, 200);
    let job = wait_job(&c, &h, E, a.body["job_id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "FAIL");
    assert!(job["fail_reason"].as_str().unwrap().contains("injected"));
    let s = c
        .get(&h, E, &format!("/v1/{{pid}}/cloudservers/{id}"))
        .await;
    assert_eq!(s.body["server"]["status"], "ERROR");
    assert!(s.body["server"]["fault"]["message"].is_string());

    let (_, id2) = create_server(&c, &h, "fine").await;
    let a = c
        .post(
            &h,
            M,
            "/v2/cloudimages/action",
            &json!({"name": "doomed", "instance_id": id2}),
        )
        .await;
    let job = wait_job(&c, &h, M, a.body["job_id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "FAIL");
    assert_eq!(job["fail_reason"], "snapshot failed");
    let img = c
        .get_query(&h, M, "/v2/cloudimages", &[("name", "doomed")])
        .await;
    assert_eq!(img.body["images"][0]["status"], "killed");

    // Dropped connection: the operation runs, the client gets no usable answer.
    c.post(
        &h,
        E,
        "/_admin/faults",
        &json!({"faults": [{"op": "NovaListKeypairs", "kind": "drop", "times": 1}]}),
    )
    .await;
    let req = c.signed_request(&h, E, "GET", "/v2.1/{pid}/os-keypairs", b"");
    let outcome = match req.send().await {
        Err(_) => true,
        Ok(r) => r.bytes().await.is_err(),
    };
    assert!(outcome, "a dropped connection must surface as an error");

    let a = c.delete(&h, E, "/_admin/faults").await;
    assert_eq!(a.status, 204);
    assert_eq!(
        c.get(&h, E, "/_admin/faults").await.body["faults"],
        json!([])
    );
    h.shutdown().await;
}

#[tokio::test]
async fn faults_from_a_file_and_quota() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faults.json");
    std::fs::write(&file, r#"{"faults": [{"op": "KeystoneListProjects", "nth": 1, "kind": "status", "status": 500}]}"#).unwrap();
    let mut cfg = Config::new(dir.path().join("state"));
    cfg.faults = cce_localcloud::faults::load_file(&file).unwrap();
    cfg.max_servers = 1;
    let h = start_with(cfg).await;
    let c = Client::new(&h);
    assert_eq!(
        c.get_query(&h, Service::Iam, "/v3/projects", &[("name", "ru-moscow-1")])
            .await
            .status,
        500
    );
    let a = c
        .get_query(&h, Service::Iam, "/v3/projects", &[("name", "ru-moscow-1")])
        .await;
    assert_eq!(a.body["projects"][0]["id"], h.project_id.as_str());

    let (a, _) = create_server(&c, &h, "q1").await;
    assert_eq!(a.status, 200);
    let (a, _) = create_server(&c, &h, "q2").await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["error"]["code"], "Ecs.0001");

    std::fs::write(&file, "{\"faults\": [\n {\"op\": 1}]}").unwrap();
    let err = cce_localcloud::faults::load_file(&file).unwrap_err();
    assert!(err.contains("faults.json:2:"), "{err}");
    h.shutdown().await;
}

#[tokio::test]
async fn state_survives_a_restart_and_inventory_lists_leaks() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path()).await;
    let c = Client::new(&h);
    let (_, id) = create_server(&c, &h, "persist").await;
    let kp = c
        .post(
            &h,
            E,
            "/v2.1/{pid}/os-keypairs",
            &json!({"keypair": {"name": "kp-1"}}),
        )
        .await;
    assert_eq!(kp.status, 200);
    assert!(
        kp.body["keypair"]["private_key"]
            .as_str()
            .unwrap()
            .contains("OPENSSH PRIVATE KEY")
    );
    let eip = c.post(&h, V, "/v1/{pid}/publicips", &json!({"publicip": {"type": "5_bgp"}, "bandwidth": {"name": "bw", "size": 5, "share_type": "PER", "charge_mode": "traffic"}})).await;
    assert_eq!(eip.status, 200, "{}", eip.body);
    assert_eq!(eip.body["publicip"]["status"], "DOWN");
    let eip_id = eip.body["publicip"]["id"].as_str().unwrap().to_string();
    let (ak, sk, pid) = (
        h.access_key.clone(),
        h.secret_key.clone(),
        h.project_id.clone(),
    );
    h.shutdown().await;

    let h = start(dir.path()).await;
    assert_eq!(
        (
            h.access_key.clone(),
            h.secret_key.clone(),
            h.project_id.clone()
        ),
        (ak, sk, pid),
        "identity is kept"
    );
    let c = Client::new(&h);
    let s = c
        .get(&h, E, &format!("/v1/{{pid}}/cloudservers/{id}"))
        .await;
    assert_eq!(s.body["server"]["status"], "ACTIVE");
    // An imported public key is kept, and no private key comes back.
    let pair = cce_localcloud::keys::generate("imported").unwrap();
    let imp = c
        .post(
            &h,
            E,
            "/v2.1/{pid}/os-keypairs",
            &json!({"keypair": {"name": "kp-imported", "public_key": pair.public_key}}),
        )
        .await;
    assert_eq!(imp.status, 200, "{}", imp.body);
    assert!(imp.body["keypair"].get("private_key").is_none());
    assert_eq!(
        imp.body["keypair"]["fingerprint"],
        pair.fingerprint.as_str()
    );
    let bad = c
        .post(
            &h,
            E,
            "/v2.1/{pid}/os-keypairs",
            &json!({"keypair": {"name": "kp-bad", "public_key": "ssh-ed25519 !!!"}}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body["badRequest"]["message"]
            .as_str()
            .unwrap()
            .contains("public_key")
    );
    assert_eq!(
        c.delete(&h, E, "/v2.1/{pid}/os-keypairs/kp-imported")
            .await
            .status,
        204
    );
    // A second keypair of the same name conflicts, as Nova does.
    let again = c
        .post(
            &h,
            E,
            "/v2.1/{pid}/os-keypairs",
            &json!({"keypair": {"name": "kp-1"}}),
        )
        .await;
    assert_eq!(again.status, 409);
    assert!(again.body["conflictingRequest"].is_object());

    // Bind the EIP, then look at the inventory.
    let port = s.body["server"]["addresses"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()[0]["OS-EXT-IPS:port_id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = c
        .call(
            &h,
            V,
            "PUT",
            &format!("/v1/{{pid}}/publicips/{eip_id}"),
            &[],
            Some(&json!({"publicip": {"port_id": port}})),
        )
        .await;
    assert_eq!(b.body["publicip"]["status"], "ACTIVE", "{}", b.body);
    let s = c
        .get(&h, E, &format!("/v1/{{pid}}/cloudservers/{id}"))
        .await;
    let addrs = s.body["server"]["addresses"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    assert!(addrs.iter().any(|a| a["OS-EXT-IPS:type"] == "floating"));
    assert_eq!(
        c.delete(&h, V, &format!("/v1/{{pid}}/publicips/{eip_id}"))
            .await
            .status,
        409
    );

    let inv = c.get(&h, E, "/_admin/inventory").await;
    assert_eq!(inv.body["servers"].as_array().unwrap().len(), 1);
    assert_eq!(inv.body["eips"].as_array().unwrap().len(), 1);
    assert_eq!(inv.body["keypairs"][0]["name"], "kp-1");
    assert_eq!(
        inv.body["vpcs"],
        json!([]),
        "built-in network is not a leak"
    );

    let d = c
        .post(
            &h,
            E,
            "/v1/{pid}/cloudservers/delete",
            &json!({"servers": [{"id": id}], "delete_publicip": false}),
        )
        .await;
    wait_job(&c, &h, E, d.body["job_id"].as_str().unwrap()).await;
    let e = c
        .get(&h, V, &format!("/v1/{{pid}}/publicips/{eip_id}"))
        .await;
    assert_eq!(
        e.body["publicip"]["status"], "DOWN",
        "delete_publicip=false only unbinds"
    );
    assert_eq!(
        c.delete(&h, V, &format!("/v1/{{pid}}/publicips/{eip_id}"))
            .await
            .status,
        204
    );
    assert_eq!(
        c.delete(&h, E, "/v2.1/{pid}/os-keypairs/kp-1").await.status,
        204
    );
    let inv = c.get(&h, E, "/_admin/inventory").await;
    for k in ["servers", "eips", "keypairs", "images", "jobs"] {
        assert_eq!(inv.body[k], json!([]), "{k} left: {}", inv.body);
    }
    h.shutdown().await;
}

#[tokio::test]
async fn networks_and_rules() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::new(dir.path());
    cfg.profile = Profile::Realistic;
    cfg.scale = 0.05; // networks take 150 ms
    let h = start_with(cfg).await;
    let c = Client::new(&h);
    let v = c
        .post(
            &h,
            V,
            "/v1/{pid}/vpcs",
            &json!({"vpc": {"name": "vpc-packer-abc123", "cidr": "172.16.0.0/16"}}),
        )
        .await;
    assert_eq!(v.body["vpc"]["status"], "CREATING");
    let vpc = v.body["vpc"]["id"].as_str().unwrap().to_string();
    let s = c.post(&h, V, "/v1/{pid}/subnets", &json!({"subnet": {"name": "subnet-packer", "cidr": "172.16.0.0/24", "gateway_ip": "172.16.0.1", "vpc_id": vpc, "dnsList": ["8.8.8.8"]}})).await;
    assert_eq!(s.status, 200, "{}", s.body);
    assert_eq!(s.body["subnet"]["status"], "UNKNOWN");
    let subnet = s.body["subnet"]["id"].as_str().unwrap().to_string();
    assert_eq!(s.body["subnet"]["neutron_network_id"], subnet.as_str());
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        c.get(&h, V, &format!("/v1/{{pid}}/vpcs/{vpc}")).await.body["vpc"]["status"],
        "OK"
    );
    assert_eq!(
        c.get(&h, V, &format!("/v1/{{pid}}/subnets/{subnet}"))
            .await
            .body["subnet"]["status"],
        "ACTIVE"
    );
    assert_eq!(
        c.delete(&h, V, &format!("/v1/{{pid}}/vpcs/{vpc}"))
            .await
            .status,
        409
    );
    assert_eq!(
        c.delete(&h, V, &format!("/v1/{{pid}}/vpcs/{vpc}/subnets/{subnet}"))
            .await
            .status,
        204
    );
    assert_eq!(
        c.delete(&h, V, &format!("/v1/{{pid}}/vpcs/{vpc}"))
            .await
            .status,
        204
    );

    let sgs = c.get(&h, V, "/v1/{pid}/security-groups").await;
    let no_ssh = sgs.body["security_groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "sg-no-ssh")
        .unwrap()
        .clone();
    let admits_22 = |rules: &Value| {
        rules
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["direction"] == "ingress" && r["port_range_min"] == 22)
    };
    assert!(!admits_22(&no_ssh["security_group_rules"]));
    let sg = no_ssh["id"].as_str().unwrap().to_string();
    let r = c.post(&h, V, "/v3/{pid}/vpc/security-group-rules", &json!({"security_group_rule": {"security_group_id": sg, "direction": "ingress", "protocol": "tcp", "multiport": "22", "remote_ip_prefix": "0.0.0.0/0", "action": "allow", "priority": 1}})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let v1 = c
        .get(&h, V, &format!("/v1/{{pid}}/security-groups/{sg}"))
        .await;
    assert!(admits_22(
        &v1.body["security_group"]["security_group_rules"]
    ));
    let dup = c.post(&h, V, "/v1/{pid}/security-group-rules", &json!({"security_group_rule": {"security_group_id": sg, "direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0", "ethertype": "IPv4"}})).await;
    assert_eq!(dup.status, 409);
    let list = c
        .get_query(
            &h,
            V,
            "/v3/{pid}/vpc/security-group-rules",
            &[("security_group_id", &sg), ("direction", "ingress")],
        )
        .await;
    assert_eq!(
        list.body["security_group_rules"].as_array().unwrap().len(),
        2
    );
    h.shutdown().await;
}

#[tokio::test]
async fn shutdown_does_not_wait_forever_for_a_slow_call() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path()).await;
    h.add_faults(vec![cce_localcloud::FaultRule {
        op: "ListFlavors".into(),
        nth: None,
        times: None,
        kind: cce_localcloud::FaultKind::Slow { delay_ms: 60_000 },
    }]);
    let c = Client::new(&h);
    let req = c.signed_request(&h, E, "GET", "/v1/{pid}/cloudservers/flavors", b"");
    let pending = tokio::spawn(req.send());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = std::time::Instant::now();
    h.shutdown().await;
    assert!(
        t.elapsed() < cce_localcloud::SHUTDOWN_GRACE + Duration::from_secs(2),
        "shutdown took {:?}",
        t.elapsed()
    );
    pending.abort();
}

#[tokio::test]
async fn an_access_key_is_locked_after_repeated_failures() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::new(dir.path());
    cfg.lock_after_failures = Some(3);
    cfg.lockout = Duration::from_secs(2);
    let h = start_with(cfg).await;
    let good = Client::new(&h);
    let mut wrong = Client::new(&h);
    wrong.creds.secret_key = "guess".into();
    for _ in 0..2 {
        assert_eq!(
            wrong
                .get(&h, E, "/v1/{pid}/cloudservers/flavors")
                .await
                .status,
            401
        );
    }
    // A success resets the count.
    assert_eq!(
        good.get(&h, E, "/v1/{pid}/cloudservers/flavors")
            .await
            .status,
        200
    );
    for _ in 0..3 {
        assert_eq!(
            wrong
                .get(&h, E, "/v1/{pid}/cloudservers/flavors")
                .await
                .status,
            401
        );
    }
    let locked = good.get(&h, E, "/v1/{pid}/cloudservers/flavors").await;
    assert_eq!(
        locked.status, 401,
        "a good signature is refused while the key is locked"
    );
    assert_eq!(locked.body["error_code"], "APIGW.0301");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        good.get(&h, E, "/v1/{pid}/cloudservers/flavors")
            .await
            .status,
        200
    );
    h.shutdown().await;
}

#[tokio::test]
async fn images_list_page_tag_share_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path()).await;
    let c = Client::new(&h);
    let (_, server) = create_server(&c, &h, "img-src").await;
    let mut ids = Vec::new();
    for name in ["img-b", "img-a", "img-c"] {
        let a = c
            .post(
                &h,
                M,
                "/v2/cloudimages/action",
                &json!({"name": name, "instance_id": server}),
            )
            .await;
        let job = wait_job(&c, &h, M, a.body["job_id"].as_str().unwrap()).await;
        ids.push(job["entities"]["image_id"].as_str().unwrap().to_string());
    }
    let names = |a: &Answer| {
        a.body["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let asc = c
        .get_query(
            &h,
            M,
            "/v2/cloudimages",
            &[
                ("__imagetype", "private"),
                ("sort_key", "name"),
                ("sort_dir", "asc"),
            ],
        )
        .await;
    assert_eq!(names(&asc), ["img-a", "img-b", "img-c"]);
    let first = c
        .get_query(
            &h,
            M,
            "/v2/cloudimages",
            &[
                ("__imagetype", "private"),
                ("sort_key", "name"),
                ("sort_dir", "asc"),
                ("limit", "1"),
            ],
        )
        .await;
    assert_eq!(names(&first), ["img-a"]);
    let marker = first.body["images"][0]["id"].as_str().unwrap().to_string();
    let next = c
        .get_query(
            &h,
            M,
            "/v2/cloudimages",
            &[
                ("__imagetype", "private"),
                ("sort_key", "name"),
                ("sort_dir", "asc"),
                ("limit", "1"),
                ("marker", &marker),
            ],
        )
        .await;
    assert_eq!(names(&next), ["img-b"]);
    let gold = c
        .get_query(&h, M, "/v2/cloudimages", &[("__imagetype", "gold")])
        .await;
    assert!(
        names(&gold)
            .iter()
            .all(|n| n.contains("local sandbox rootfs"))
            && names(&gold).len() == 2
    );
    assert_eq!(
        c.get_query(&h, M, "/v2/cloudimages", &[("visibility", "public")])
            .await
            .body["images"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        c.get_query(&h, M, "/v2/cloudimages", &[("sort_dir", "sideways")])
            .await
            .status,
        400
    );

    // Tags.
    let id = ids[0].clone();
    let t = c
        .post(
            &h,
            M,
            &format!("/v2/{{pid}}/images/{id}/tags"),
            &json!({"tag": {"key": "role", "value": "node"}}),
        )
        .await;
    assert_eq!(t.status, 204, "{}", t.body);
    c.post(
        &h,
        M,
        &format!("/v2/{{pid}}/images/{id}/tags/action"),
        &json!({"action": "create", "tags": [{"key": "k8s", "value": "1.28"}]}),
    )
    .await;
    let tags = c.get(&h, M, &format!("/v2/{{pid}}/images/{id}/tags")).await;
    assert_eq!(
        tags.body["tags"],
        json!([{"key": "role", "value": "node"}, {"key": "k8s", "value": "1.28"}])
    );
    assert_eq!(
        c.delete(&h, M, &format!("/v2/{{pid}}/images/{id}/tags/role"))
            .await
            .status,
        204
    );
    assert_eq!(
        c.delete(&h, M, &format!("/v2/{{pid}}/images/{id}/tags/role"))
            .await
            .status,
        404
    );

    // Members: share with another project, which accepts.
    let other = "0123456789abcdef0123456789abcdef";
    let m = c
        .post(
            &h,
            M,
            "/v1/cloudimages/members",
            &json!({"images": [id], "projects": [other]}),
        )
        .await;
    assert_eq!(m.status, 200, "{}", m.body);
    assert_eq!(
        wait_job(&c, &h, M, m.body["job_id"].as_str().unwrap()).await["status"],
        "SUCCESS"
    );
    let list = c
        .get(&h, M, &format!("/v1/{{pid}}/cloudimages/{id}/members"))
        .await;
    assert_eq!(list.body["members"][0]["status"], "pending");
    let acc = c
        .call(
            &h,
            M,
            "PUT",
            &format!("/v2/images/{id}/members/{other}"),
            &[],
            Some(&json!({"status": "accepted"})),
        )
        .await;
    assert_eq!(acc.body["status"], "accepted");
    let shared = c
        .get_query(&h, M, "/v2/cloudimages", &[("__imagetype", "shared")])
        .await;
    assert_eq!(names(&shared), ["img-b"]);

    // Delete: a public image cannot be, a private one is gone after.
    let gold_id = gold.body["images"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        c.delete(&h, M, &format!("/v2/images/{gold_id}"))
            .await
            .status,
        403
    );
    assert_eq!(
        c.delete(&h, M, &format!("/v2/images/{id}")).await.status,
        204
    );
    let gone = c.get(&h, M, &format!("/v2/images/{id}")).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.body["error"]["code"], "IMG.0027");
    h.shutdown().await;
}
