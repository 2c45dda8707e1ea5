//! Holds our API client (`cce_cloud`) to the official Huawei Cloud Python SDK call by call: the
//! same builder sequence runs once through `tests/sdk/record.py` (the SDK's clients and models)
//! and once through `cce_cloud`'s typed calls, each against a fresh local cloud that records
//! every request (`Config::request_log`). The two recordings must agree call by call on service,
//! method, path, query and JSON body.
//!
//! Normalisation, decided once for all calls:
//! - ids (UUIDs and 32-digit hex ids) differ between two clouds, so each is replaced by
//!   `<id-N>`, N counting distinct ids in order of first appearance in that recording;
//! - query pairs are compared decoded and sorted (their order on the wire is not meaning: both
//!   sides sign the canonical, sorted query);
//! - JSON bodies are compared as values, and an object member whose value is `null` counts as
//!   absent: the SDK drops `None` attributes and so can never send `null`. The one call where
//!   `null` means something else than absent, the EIP update with `port_id: null` (unbind), is
//!   therefore not in the sequence: the SDK cannot express it.
//!
//! The venv is `$CCE_VENV`, else `<repo>/.venv`; under `CI=true` a missing venv or SDK fails the
//! test, otherwise it is skipped with a message.

mod common;

use common::sdk::{repo_root, sdk_python};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cce_cloud::models::*;
use cce_cloud::{Client, ClientConfig, EndpointsFile, Service as Svc, WaitPolicy};
use cce_localcloud::{Config, LocalCloud, LocalCloudHandle};
use serde_json::{Value, json};


/// Starts a recording local cloud on a fresh state under `dir`.
async fn start_recording(dir: &Path, name: &str) -> (LocalCloudHandle, PathBuf) {
    let log = dir.join(format!("{name}.jsonl"));
    let mut config = Config::new(dir.join(format!("{name}-state")));
    config.request_log = Some(log.clone());
    let h = LocalCloud::start(config).await.expect("the local cloud starts");
    (h, log)
}

/// The ids of the built-in security groups, read from the state file.
fn fixtures(h: &LocalCloudHandle) -> Value {
    let text = std::fs::read_to_string(h.state_dir.join("state.json")).expect("state.json exists");
    let state: Value = serde_json::from_str(&text).expect("state.json is JSON");
    let groups = state["security_groups"].as_object().expect("security groups in the state");
    let id_of = |name: &str| {
        groups
            .iter()
            .find(|(_, g)| g["name"] == name)
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| panic!("no built-in security group {name}"))
    };
    json!({"sg_default": id_of("default"), "sg_no_ssh": id_of("sg-no-ssh")})
}

async fn run_sdk(python: &Path, h: &LocalCloudHandle, fx: &Value) {
    let script = repo_root().join("tests").join("sdk").join("record.py");
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(&script)
        .arg(h.ready_line())
        .arg(fx.to_string())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .expect("record.py finishes within 180 s")
        .expect("record.py starts");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && text.contains("sdk record: ok"),
        "record.py failed:\n{text}"
    );
}

/// The same steps as `record.py::run`, in the same order, with `cce_cloud`.
async fn run_ours(h: &LocalCloudHandle, fx: &Value) {
    let file = EndpointsFile::parse(&h.ready_line(), "ready line").expect("ready line parses");
    let c = Client::new(ClientConfig::from_endpoints_file(&file, &HashMap::new()).expect("config"))
        .expect("client");
    let policy = WaitPolicy::with_timeout(Duration::from_secs(30));
    let sg_default = fx["sg_default"].as_str().expect("sg_default");
    let sg_no_ssh = fx["sg_no_ssh"].as_str().expect("sg_no_ssh");

    assert_eq!(c.list_projects(&h.region).await.expect("projects").len(), 1);
    c.list_availability_zones().await.expect("zones");
    c.list_availability_zones_v1().await.expect("zones v1");
    c.list_flavors(Some("ru-moscow-1a")).await.expect("flavors");

    let subnet = c.list_subnets(None).await.expect("subnets").remove(0);
    let vpc_id = subnet.vpc_id.clone();
    c.show_vpc(&vpc_id).await.expect("show vpc");
    c.show_subnet(&subnet.id).await.expect("show subnet");
    c.show_security_group(sg_default).await.expect("show sg");
    c.list_security_group_rules(sg_no_ssh).await.expect("rules");
    c.create_security_group_rule(&SecurityGroupRule {
        security_group_id: Some(sg_no_ssh.into()),
        direction: "ingress".into(),
        ethertype: Some("IPv4".into()),
        protocol: Some("tcp".into()),
        port_range_min: Some(8080),
        port_range_max: Some(8081),
        remote_ip_prefix: Some("10.0.0.0/8".into()),
        ..Default::default()
    })
    .await
    .expect("v1 rule");
    c.list_security_group_rules_v3(sg_no_ssh, None).await.expect("rules v3");
    c.create_security_group_rule_v3(&SecurityGroupRuleV3 {
        security_group_id: Some(sg_no_ssh.into()),
        direction: "ingress".into(),
        ethertype: Some("IPv4".into()),
        protocol: Some("tcp".into()),
        multiport: Some("22".into()),
        remote_ip_prefix: Some("0.0.0.0/0".into()),
        action: Some("allow".into()),
        priority: Some(1),
        ..Default::default()
    })
    .await
    .expect("v3 rule");
    c.show_security_group_v3(sg_no_ssh).await.expect("show sg v3");

    let v = c
        .create_vpc(&VpcCreate {
            name: "packer-vpc-1".into(),
            cidr: "192.168.0.0/16".into(),
            description: None,
            enterprise_project_id: None,
        })
        .await
        .expect("create vpc");
    c.show_vpc(&v.id).await.expect("show new vpc");
    let s = c
        .create_subnet(&SubnetCreate {
            name: "packer-subnet-1".into(),
            cidr: "192.168.0.0/24".into(),
            gateway_ip: "192.168.0.1".into(),
            vpc_id: v.id.clone(),
            dns_list: vec!["100.125.13.59".into()],
            primary_dns: None,
            secondary_dns: None,
            availability_zone: None,
            dhcp_enable: None,
        })
        .await
        .expect("create subnet");
    c.show_subnet(&s.id).await.expect("show new subnet");

    c.create_keypair("packer-kp-1", None).await.expect("keypair");
    c.show_keypair("packer-kp-1").await.expect("show keypair");
    c.list_keypairs().await.expect("keypairs");
    let eip = c.create_eip(&EipCreate::new("packer-eip-1", 5)).await.expect("eip");
    c.show_eip(&eip.id).await.expect("show eip");
    c.list_eips().await.expect("eips");
    c.list_vpcs().await.expect("vpcs");

    let gold = c
        .list_images(&ImageQuery {
            image_type: Some("gold".into()),
            name: Some("Debian 12 (local sandbox rootfs)".into()),
            ..Default::default()
        })
        .await
        .expect("gold image");
    let image_ref = gold[0].id.clone();
    let v1 = c
        .create_server_v1(&ServerCreate {
            name: "packer-node-v1".into(),
            image_ref: image_ref.clone(),
            flavor_ref: "s7n.large.2".into(),
            vpcid: vpc_id.clone(),
            nics: vec![NicSpec { subnet_id: subnet.id.clone(), ip_address: None }],
            security_groups: vec![IdRef { id: sg_default.into() }],
            availability_zone: Some("ru-moscow-1a".into()),
            root_volume: RootVolume { volumetype: "SSD".into(), size: Some(40) },
            key_name: Some("packer-kp-1".into()),
            user_data: Some("IyEvYmluL3NoCmVjaG8gaGk=".into()),
            publicip: Some(json!({"id": eip.id})),
            ..Default::default()
        })
        .await
        .expect("create v1");
    c.wait_job(Svc::Ecs, v1.job_id.as_deref().expect("job id"), &policy).await.expect("v1 job");
    let server = v1.server_ids[0].clone();
    let v11 = c
        .create_server_v1_1(&ServerCreate {
            name: "packer-node-v11".into(),
            image_ref,
            flavor_ref: "s7n.xlarge.2".into(),
            vpcid: vpc_id,
            nics: vec![NicSpec { subnet_id: subnet.id.clone(), ip_address: None }],
            root_volume: RootVolume { volumetype: "GPSSD".into(), size: None },
            ..Default::default()
        })
        .await
        .expect("create v1.1");
    c.wait_job(Svc::Ecs, v11.job_id.as_deref().expect("job id"), &policy).await.expect("v1.1 job");
    let server11 = v11.server_ids[0].clone();
    c.show_server(&server).await.expect("show server");
    c.list_servers(&ServerQuery { name: Some("packer-node-v1".into()), ..Default::default() })
        .await
        .expect("list servers");
    let port = c.list_interfaces(&server11).await.expect("interfaces")[0].port_id.clone();
    let second = c.create_eip(&EipCreate::new("packer-eip-2", 5)).await.expect("second eip");
    c.update_eip_port(&second.id, Some(&port)).await.expect("bind eip");
    let third = c.create_eip(&EipCreate::new("packer-eip-3", 5)).await.expect("third eip");
    c.delete_eip(&third.id).await.expect("delete eip");

    let stop = c.stop_servers(&[&server], false).await.expect("stop");
    c.wait_job(Svc::Ecs, &stop, &policy).await.expect("stop job");
    let made = c
        .create_image(&ImageCreate {
            name: "cce-node-custom-1".into(),
            instance_id: server.clone(),
            description: Some("made by the comparison".into()),
            image_tags: vec![Tag { key: "builder".into(), value: "cce-image-builder".into() }],
            ..Default::default()
        })
        .await
        .expect("create image");
    let CreatedImage::Job(job) = made else { panic!("the image create answered without a job: {made:?}") };
    let job = c.wait_job(Svc::Ims, &job, &policy).await.expect("image job");
    let image_id = job.image_id().expect("the job names the image").to_string();
    c.list_images(&ImageQuery { id: Some(image_id.clone()), ..Default::default() })
        .await
        .expect("image by id");
    c.add_image_tags(&image_id, &[Tag { key: "os".into(), value: "debian".into() }])
        .await
        .expect("add tags");
    c.list_image_tags(&image_id).await.expect("list tags");
    let share = c
        .add_image_members(&[&image_id], &["0123456789abcdef0123456789abcdef"])
        .await
        .expect("share image");
    c.wait_job(Svc::Ims, &share, &policy).await.expect("share job");
    let start = c.start_servers(&[&server]).await.expect("start");
    c.wait_job(Svc::Ecs, &start, &policy).await.expect("start job");

    let d = c.delete_servers(&[&server, &server11], true, true).await.expect("delete servers");
    c.wait_job(Svc::Ecs, &d, &policy).await.expect("delete job");
    c.delete_keypair("packer-kp-1").await.expect("delete keypair");
    c.delete_subnet(&v.id, &s.id).await.expect("delete subnet");
    c.delete_vpc(&v.id).await.expect("delete vpc");
    c.delete_image(&image_id).await.expect("delete image");
}

// ---------------------------------------------------------------- comparison

/// A UUID (8-4-4-4-12 hex) or a 32-digit hex id.
fn is_id(s: &str) -> bool {
    let hex = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_hexdigit());
    let parts: Vec<&str> = s.split('-').collect();
    match parts.as_slice() {
        [one] => one.len() == 32 && hex(one),
        [a, b, c, d, e] => {
            [a.len(), b.len(), c.len(), d.len(), e.len()] == [8, 4, 4, 4, 12]
                && parts.iter().all(|p| hex(p))
        }
        _ => false,
    }
}

/// Gives each distinct id a stable placeholder, in order of first appearance.
#[derive(Default)]
struct Ids(HashMap<String, usize>);

impl Ids {
    fn token(&mut self, s: &str) -> String {
        if !is_id(s) {
            return s.to_string();
        }
        let next = self.0.len() + 1;
        let n = *self.0.entry(s.to_string()).or_insert(next);
        format!("<id-{n}>")
    }

    fn path(&mut self, p: &str) -> String {
        p.split('/').map(|seg| self.token(seg)).collect::<Vec<_>>().join("/")
    }

    /// Replaces ids in strings and drops `null` object members.
    fn value(&mut self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.token(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.value(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .filter(|(_, x)| !x.is_null())
                    .map(|(k, x)| (k.clone(), self.value(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// One recorded request, normalised; `op` is kept for messages only.
fn normalise(lines: &[Value]) -> Vec<(String, Value)> {
    let mut ids = Ids::default();
    lines
        .iter()
        .map(|l| {
            let path = ids.path(l["path"].as_str().unwrap_or_default());
            let query = ids.value(&l["query"]);
            let body = ids.value(&l["body"]);
            let op = l["op"].as_str().unwrap_or("?").to_string();
            (
                op,
                json!({"service": l["service"], "method": l["method"], "path": path, "query": query, "body": body}),
            )
        })
        .collect()
}

fn read_log(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the request log {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("each request log line is JSON"))
        .collect()
}

/// `None` when both recordings agree; else a readable account of the first differing calls
/// (at most `max`) and of any call one side made and the other did not.
fn compare(sdk: &[Value], ours: &[Value], max: usize) -> Option<String> {
    let sdk = normalise(sdk);
    let ours = normalise(ours);
    let mut out = String::new();
    let mut shown = 0;
    for (i, (s, o)) in sdk.iter().zip(ours.iter()).enumerate() {
        if s.1 == o.1 {
            continue;
        }
        shown += 1;
        if shown > max {
            out.push_str("… more calls differ\n");
            break;
        }
        out.push_str(&format!("call {} differs: sdk {} / ours {}\n", i + 1, s.0, o.0));
        for field in ["service", "method", "path", "query", "body"] {
            if s.1[field] != o.1[field] {
                out.push_str(&format!(
                    "  {field}:\n    sdk:  {}\n    ours: {}\n",
                    s.1[field], o.1[field]
                ));
            }
        }
    }
    if sdk.len() != ours.len() {
        out.push_str(&format!("the sdk made {} calls, ours {}\n", sdk.len(), ours.len()));
        let (longer, who) = if sdk.len() > ours.len() { (&sdk, "sdk") } else { (&ours, "ours") };
        let common = sdk.len().min(ours.len());
        for (i, (op, call)) in longer.iter().enumerate().skip(common).take(max) {
            out.push_str(&format!("  only {who}: call {} {op}: {call}\n", i + 1));
        }
    }
    (!out.is_empty()).then_some(out)
}

#[test]
fn comparison_reports_a_differing_body_and_ignores_ids_and_nulls() {
    let sdk = vec![
        json!({"service": "ecs", "op": "ShowServer", "method": "GET", "path": "/v1/0123456789abcdef0123456789abcdef/cloudservers/11111111-2222-3333-4444-555555555555", "query": [], "body": null}),
        json!({"service": "ecs", "op": "NovaCreateKeypair", "method": "POST", "path": "/v2.1/0123456789abcdef0123456789abcdef/os-keypairs", "query": [], "body": {"keypair": {"name": "k"}}}),
    ];
    let same = vec![
        json!({"service": "ecs", "op": "ShowServer", "method": "GET", "path": "/v1/ffffffffffffffffffffffffffffffff/cloudservers/aaaaaaaa-2222-3333-4444-555555555555", "query": [], "body": null}),
        json!({"service": "ecs", "op": "NovaCreateKeypair", "method": "POST", "path": "/v2.1/ffffffffffffffffffffffffffffffff/os-keypairs", "query": [], "body": {"keypair": {"name": "k", "public_key": null}}}),
    ];
    assert_eq!(compare(&sdk, &same, 3), None);

    let mut other = same.clone();
    other[1]["body"]["keypair"]["type"] = json!("ssh");
    let diff = compare(&sdk, &other, 3).expect("a body difference is reported");
    assert!(diff.contains("call 2 differs") && diff.contains("\"type\":\"ssh\""), "{diff}");

    // The same id where the SDK used two different ones is a difference.
    let mut swapped = same.clone();
    swapped[1]["path"] = json!("/v2.1/aaaaaaaa-2222-3333-4444-555555555555/os-keypairs");
    assert!(compare(&sdk, &swapped, 3).expect("differs").contains("path"));

    let diff = compare(&sdk, &same[..1], 3).expect("a missing call is reported");
    assert!(diff.contains("the sdk made 2 calls, ours 1") && diff.contains("only sdk: call 2 NovaCreateKeypair"), "{diff}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_sends_what_the_official_sdk_sends() {
    let python = match sdk_python() {
        Ok(p) => p,
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true and the SDK prerequisite is missing: {why}")
        }
        Err(why) => {
            eprintln!("skipping the call-by-call comparison with the official SDK: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().expect("temp dir");

    let (h, sdk_log) = start_recording(dir.path(), "sdk").await;
    let fx = fixtures(&h);
    run_sdk(&python, &h, &fx).await;
    h.shutdown().await;

    let (h, our_log) = start_recording(dir.path(), "ours").await;
    let fx = fixtures(&h);
    run_ours(&h, &fx).await;
    h.shutdown().await;

    let sdk = read_log(&sdk_log);
    let ours = read_log(&our_log);
    assert!(sdk.len() >= 40, "the sdk run recorded only {} calls", sdk.len());
    if let Some(diff) = compare(&sdk, &ours, 5) {
        panic!("our client's requests differ from the official SDK's:\n{diff}");
    }
    eprintln!("{} calls agree with the official SDK's", sdk.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_log_records_each_verified_call() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (h, log) = start_recording(dir.path(), "log").await;
    let file = EndpointsFile::parse(&h.ready_line(), "ready line").expect("ready line parses");
    let c = Client::new(ClientConfig::from_endpoints_file(&file, &HashMap::new()).expect("config"))
        .expect("client");
    c.list_flavors(Some("ru-moscow-1a")).await.expect("flavors");
    c.create_keypair("kp-log", None).await.expect("keypair");
    let project_id = h.project_id.clone();
    h.shutdown().await;

    let lines = read_log(&log);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["service"], "ecs");
    assert_eq!(lines[0]["op"], "ListFlavors");
    assert_eq!(lines[0]["method"], "GET");
    assert_eq!(lines[0]["path"], format!("/v1/{project_id}/cloudservers/flavors"));
    assert_eq!(lines[0]["query"], json!([["availability_zone", "ru-moscow-1a"]]));
    assert_eq!(lines[0]["body"], Value::Null);
    assert_eq!(lines[1]["op"], "NovaCreateKeypair");
    assert_eq!(lines[1]["body"], json!({"keypair": {"name": "kp-log", "type": "ssh"}}));
}
