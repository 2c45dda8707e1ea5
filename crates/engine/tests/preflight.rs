//! Pre-flight checks against a local cloud over real signed HTTP: a good source passes, each
//! broken field fails naming that field, and the checks create nothing (the inventory is the
//! same before and after, and the cloud saw only GET requests).

mod common;

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::path::Path;

use cce_cloud::models::{
    ImageCreate, ImageQuery, NicSpec, RootVolume, ServerCreate, ServerQuery, SubnetCreate,
    VpcCreate,
};
use cce_cloud::{Client, ClientConfig, Cloud, EndpointsFile, WaitPolicy};
use cce_engine::preflight::{self, Options, PreflightReport, Status};
use cce_localcloud::{Config, FaultKind, FaultRule, LocalCloud, LocalCloudHandle};
use cce_template::load::{LoadOptions, load};
use cce_template::schema::huaweicloud::{HuaweiEcsConfig, SecurityGroupRef, SourceImage};
use cce_template::schema::{SourceConfig, plan_with_env};

fn client(h: &LocalCloudHandle) -> Client {
    let mut config = common::client_config(h);
    // The default 20 calls/s suits the real cloud; these checks make a hundred calls.
    config.rate_limit = cce_cloud::RateLimit {
        per_second: 1000.0,
        burst: 1000,
    };
    Client::new(config).expect("client")
}

/// A checked source from HCL, in real-cloud mode (credentials from the environment map).
fn cfg(body: &str) -> HuaweiEcsConfig {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "source \"huaweicloud-ecs\" \"b\" {{\n  region = \"ru-moscow-1\"\n  image_name = \"cce-node\"\n  ssh_username = \"root\"\n{body}\n}}\nbuild {{\n  sources = [\"source.huaweicloud-ecs.b\"]\n}}\n"
    );
    std::fs::write(dir.path().join("t.pkr.hcl"), text).unwrap();
    let env: BTreeMap<String, String> = [
        ("HW_ACCESS_KEY".to_string(), "AK".to_string()),
        ("HW_SECRET_KEY".to_string(), "SK".to_string()),
    ]
    .into();
    let loaded = load(&LoadOptions {
        path: dir.path().to_path_buf(),
        env: env.clone(),
        ..Default::default()
    })
    .unwrap();
    let (plan, diags) = plan_with_env(&loaded.blocks, &env);
    assert!(!diags.has_errors(), "{}", diags.render(&loaded.sources));
    match &plan.unwrap().builds[0].sources[0].config {
        SourceConfig::HuaweiEcs(c) => c.clone(),
        other => panic!("not a huaweicloud-ecs source: {other:?}"),
    }
}

/// Ids of what a local cloud starts with.
struct Fixture {
    vpc: String,
    subnet: String,
    sg_ssh: String,
    sg_no_ssh: String,
    cce_image: String,
    plain_image: String,
}

async fn fixture(c: &Client) -> Fixture {
    let subnets = c.list_subnets(None).await.unwrap();
    let sgs = c.list_security_groups().await.unwrap();
    let sg = |n: &str| {
        sgs.iter()
            .find(|g| g.name == n)
            .unwrap_or_else(|| panic!("no group {n}"))
            .id
            .clone()
    };
    let gold = c
        .list_images(&ImageQuery {
            image_type: Some("gold".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let image = |cce: bool| {
        gold.iter()
            .find(|i| i.name.contains("CCE") == cce)
            .expect("a gold image")
            .id
            .clone()
    };
    Fixture {
        vpc: subnets[0].vpc_id.clone(),
        subnet: subnets[0].id.clone(),
        sg_ssh: sg("default"),
        sg_no_ssh: sg("sg-no-ssh"),
        cce_image: image(true),
        plain_image: image(false),
    }
}

/// A local cloud on `dir`, its client and the fixture's names.
async fn start(dir: &Path) -> (LocalCloudHandle, Client, Fixture) {
    let h = LocalCloud::start(Config::new(dir.to_path_buf()))
        .await
        .unwrap();
    let c = client(&h);
    let f = fixture(&c).await;
    (h, c, f)
}

fn good(f: &Fixture) -> HuaweiEcsConfig {
    cfg(&format!(
        "  flavor = \"s7n.large.2\"\n  availability_zone = \"ru-moscow-1a\"\n  source_image = \"{}\"\n  vpc_id = \"{}\"\n  subnets = [\"{}\"]\n  security_groups = [\"{}\"]\n  eip_bandwidth_size = 5",
        f.cce_image, f.vpc, f.subnet, f.sg_ssh
    ))
}

/// The values `key` gives for `items`, sorted.
fn sorted<T>(items: Vec<T>, key: impl Fn(T) -> String) -> Vec<String> {
    let mut v: Vec<String> = items.into_iter().map(key).collect();
    v.sort();
    v
}

/// Everything that a build could create, by kind.
async fn inventory(c: &Client) -> BTreeMap<&'static str, Vec<String>> {
    let servers = c
        .list_servers(&ServerQuery::default())
        .await
        .unwrap()
        .servers;
    let keypairs = c.list_keypairs().await.unwrap();
    let eips = c.list_eips().await.unwrap();
    let vpcs = c.list_vpcs().await.unwrap();
    let subnets = c.list_subnets(None).await.unwrap();
    let images = c.list_images(&ImageQuery::default()).await.unwrap();
    let groups = c.list_security_groups().await.unwrap();
    BTreeMap::from([
        (
            "servers",
            sorted(servers, |s| format!("{} {}", s.id, s.status)),
        ),
        ("keypairs", sorted(keypairs, |k| k.name)),
        ("eips", sorted(eips, |e| format!("{} {}", e.id, e.status))),
        ("vpcs", sorted(vpcs, |v| v.id)),
        ("subnets", sorted(subnets, |s| s.id)),
        (
            "images",
            sorted(images, |i| format!("{} {}", i.id, i.status)),
        ),
        (
            "security groups",
            sorted(groups, |g| {
                format!("{} {}", g.id, g.security_group_rules.len())
            }),
        ),
    ])
}

fn methods_since(log: &Path, from_line: usize) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .skip(from_line)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!(
                "{} {} {}",
                v["method"].as_str().unwrap(),
                v["op"].as_str().unwrap(),
                v["path"].as_str().unwrap()
            )
        })
        .collect()
}

fn line_count(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// The one failed check, asserting it names `field` and that everything else passed.
#[track_caller]
fn only_failure<'a>(r: &'a PreflightReport, field: &str) -> &'a preflight::Check {
    let fails: Vec<_> = r.failures().collect();
    assert_eq!(
        fails.len(),
        1,
        "expected one failure naming {field}:\n{}",
        r.render_text()
    );
    assert_eq!(
        fails[0].field.as_deref(),
        Some(field),
        "{}",
        r.render_text()
    );
    assert!(fails[0].fix.as_deref().is_some_and(|f| !f.is_empty()));
    fails[0]
}

#[tokio::test]
async fn preflight_checks_each_field_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let mut config = Config::new(dir.path().join("state"));
    config.request_log = Some(log.clone());
    let h = LocalCloud::start(config).await.unwrap();
    let c = client(&h);
    let f = fixture(&c).await;
    let wait = WaitPolicy::with_timeout(std::time::Duration::from_secs(30));

    // Setup that needs creates happens before the inventory is taken: another VPC with a
    // subnet, and an image whose job failed (status killed).
    let other_vpc = Cloud::create_vpc(
        &c,
        &VpcCreate {
            name: "other".into(),
            cidr: "10.9.0.0/16".into(),
            ..Default::default()
        },
        &wait,
    )
    .await
    .unwrap();
    let other_subnet = Cloud::create_subnet(
        &c,
        &SubnetCreate {
            name: "other-sub".into(),
            cidr: "10.9.1.0/24".into(),
            gateway_ip: "10.9.1.1".into(),
            vpc_id: other_vpc.id.clone(),
            ..Default::default()
        },
        &wait,
    )
    .await
    .unwrap();
    let server = Cloud::create_server(
        &c,
        &ServerCreate {
            name: "image-source".into(),
            image_ref: f.cce_image.clone(),
            flavor_ref: "s7n.large.2".into(),
            vpcid: f.vpc.clone(),
            nics: vec![NicSpec {
                subnet_id: f.subnet.clone(),
                ip_address: None,
            }],
            availability_zone: Some("ru-moscow-1a".into()),
            root_volume: RootVolume {
                volumetype: "SSD".into(),
                size: Some(40),
            },
            ..Default::default()
        },
        &wait,
    )
    .await
    .unwrap();
    Cloud::stop_server(&c, &server.id, &wait).await.unwrap();
    h.add_faults(vec![FaultRule {
        op: "CreateImage".into(),
        nth: None,
        times: Some(1),
        kind: FaultKind::JobFail {
            fail_reason: "disk read error".into(),
        },
    }]);
    let failed = Cloud::create_image(
        &c,
        &ImageCreate {
            name: "broken-image".into(),
            instance_id: server.id.clone(),
            ..Default::default()
        },
        &wait,
    )
    .await;
    assert!(failed.is_err(), "the image job must fail");
    let killed = c
        .list_images(&ImageQuery {
            name: Some("broken-image".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(killed[0].status, "killed");
    let killed = killed[0].id.clone();

    let before = inventory(&c).await;
    let log_start = line_count(&log);

    // A good source passes with every check ok.
    let r = preflight::run(&c, &good(&f)).await;
    assert_eq!(r.worst(), Status::Ok, "{}", r.render_text());
    let names: Vec<&str> = r.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names[0], "credentials");
    for want in [
        "availability zone",
        "vpc",
        "flavor",
        "source image",
        "CCE base image",
        "public ip",
    ] {
        assert!(names.contains(&want), "no {want} check in {names:?}");
    }
    let sg_line = r
        .checks
        .iter()
        .find(|c| c.name.starts_with("security group"))
        .unwrap();
    assert!(
        sg_line
            .detail
            .contains("admits TCP 22 from anywhere (0.0.0.0/0"),
        "{}",
        sg_line.detail
    );

    // The build host's address, when known, is the source checked.
    let r = preflight::run_with(
        &c,
        &good(&f),
        &Options {
            ssh_source: Some("203.0.113.5".parse().unwrap()),
        },
    )
    .await;
    assert!(
        r.render_text()
            .contains("admits TCP 22 from 203.0.113.5 (this host)"),
        "{}",
        r.render_text()
    );

    // Unknown zone.
    let mut bad = good(&f);
    bad.availability_zone = Some("ru-moscow-1z".into());
    let r = preflight::run(&c, &bad).await;
    let fail = only_failure(&r, "availability_zone");
    assert!(
        fail.detail.contains("ru-moscow-1z")
            && fail.fix.as_deref().unwrap().contains("ru-moscow-1a"),
        "{fail:?}"
    );

    // A subnet of another VPC.
    let mut bad = good(&f);
    bad.subnets = vec![other_subnet.id.clone()];
    let r = preflight::run(&c, &bad).await;
    let fail = only_failure(&r, "subnets");
    assert!(fail.detail.contains(&other_vpc.id), "{fail:?}");

    // The console's Subnet ID instead of the Network ID ECS wants.
    let neutron = c
        .show_subnet(&f.subnet)
        .await
        .unwrap()
        .neutron_subnet_id
        .expect("a neutron subnet id");
    let mut bad = good(&f);
    bad.subnets = vec![neutron];
    let r = preflight::run(&c, &bad).await;
    let fail = only_failure(&r, "subnets");
    assert!(
        fail.detail
            .contains("is the Subnet ID of network subnet-default")
            && fail.fix.as_deref() == Some(format!("use the Network ID {}", f.subnet).as_str()),
        "{fail:?}"
    );
    bad.subnets = vec!["22222222-0000-0000-0000-000000000000".into()];
    assert!(
        only_failure(&preflight::run(&c, &bad).await, "subnets")
            .detail
            .contains("does not exist")
    );

    // A VPC that does not exist.
    let mut bad = good(&f);
    bad.vpc_id = Some("00000000-0000-0000-0000-000000000000".into());
    only_failure(&preflight::run(&c, &bad).await, "vpc_id");

    // A security group without port 22, by id and by name.
    let mut bad = good(&f);
    bad.security_groups = vec![SecurityGroupRef::Id(f.sg_no_ssh.clone())];
    let fail = only_failure(&preflight::run(&c, &bad).await, "security_groups").clone();
    assert!(fail.detail.contains("does not admit TCP 22"), "{fail:?}");
    bad.security_groups = vec![SecurityGroupRef::Name("sg-no-ssh".into())];
    only_failure(&preflight::run(&c, &bad).await, "security_groups");
    bad.security_groups = vec![SecurityGroupRef::Name("no-such-group".into())];
    only_failure(&preflight::run(&c, &bad).await, "security_groups");
    // No groups: the default group is checked, and it admits SSH.
    bad.security_groups = Vec::new();
    assert!(preflight::run(&c, &bad).await.passed());

    // Image missing, not active, or not a CCE base image.
    let mut bad = good(&f);
    bad.source_image = Some(SourceImage::Id(
        "11111111-2222-3333-4444-555555555555".into(),
    ));
    only_failure(&preflight::run(&c, &bad).await, "source_image");
    bad.source_image = Some(SourceImage::Id(killed.clone()));
    let r = preflight::run(&c, &bad).await;
    assert!(
        only_failure(&r, "source_image")
            .detail
            .contains("killed, not active"),
        "{}",
        r.render_text()
    );
    bad.source_image = Some(SourceImage::Name("no such image".into()));
    only_failure(&preflight::run(&c, &bad).await, "source_image_name");
    bad.source_image = Some(SourceImage::Id(f.plain_image.clone()));
    let r = preflight::run(&c, &bad).await;
    assert!(r.passed(), "{}", r.render_text());
    let warn = r
        .checks
        .iter()
        .find(|c| c.status == Status::Warn)
        .expect("a warning");
    assert_eq!(
        (warn.name.as_str(), warn.field.as_deref()),
        ("CCE base image", Some("source_image"))
    );
    assert!(
        warn.detail.contains("используйте стандартные образы CCE"),
        "{}",
        warn.detail
    );
    bad.source_image = Some(SourceImage::Name(
        "Debian 12 CCE node base (local sandbox rootfs)".into(),
    ));
    assert_eq!(preflight::run(&c, &bad).await.worst(), Status::Ok);
    // The system disk cannot be smaller than the image's minimum.
    let mut bad = good(&f);
    bad.volume_size = Some(10);
    only_failure(&preflight::run(&c, &bad).await, "volume_size");

    // An image of the name to create exists already: a warning.
    let mut dup = good(&f);
    dup.image_name = Some("broken-image".into());
    let r = preflight::run(&c, &dup).await;
    assert_eq!(r.worst(), Status::Warn, "{}", r.render_text());
    let warn = r.checks.iter().find(|c| c.status == Status::Warn).unwrap();
    assert_eq!(warn.field.as_deref(), Some("image_name"));
    assert!(warn.detail.contains(&killed), "{}", warn.detail);

    // A flavor not sold in the zone.
    let mut bad = good(&f);
    bad.flavor = Some("x9.huge.64".into());
    let fail = only_failure(&preflight::run(&c, &bad).await, "flavor").clone();
    assert!(
        fail.fix.as_deref().unwrap().contains("s7n.large.2"),
        "{fail:?}"
    );

    // EIPs: a missing floating_ip, reuse_ips with nothing to reuse, no EIP at all.
    let mut bad = good(&f);
    bad.eip_bandwidth_size = 0;
    bad.floating_ip = Some("99999999-0000-0000-0000-000000000000".into());
    only_failure(&preflight::run(&c, &bad).await, "floating_ip");
    bad.floating_ip = None;
    bad.reuse_ips = true;
    only_failure(&preflight::run(&c, &bad).await, "reuse_ips");
    bad.reuse_ips = false;
    let r = preflight::run(&c, &bad).await;
    assert_eq!(r.worst(), Status::Warn, "{}", r.render_text());
    assert!(
        r.checks
            .iter()
            .any(|c| c.field.as_deref() == Some("eip_bandwidth_size"))
    );

    // Wrong credentials: one failed check, nothing else tried.
    let mut file = EndpointsFile::parse(&h.ready_line(), "ready line").unwrap();
    file.secret_key = "not-the-secret-key-of-this-cloud".into();
    let wrong =
        Client::new(ClientConfig::from_endpoints_file(&file, &HashMap::new()).unwrap()).unwrap();
    let r = preflight::run(&wrong, &good(&f)).await;
    assert_eq!(r.checks.len(), 1, "{}", r.render_text());
    assert_eq!(
        (r.checks[0].name.as_str(), r.checks[0].status),
        ("credentials", Status::Fail)
    );
    assert!(r.checks[0].detail.contains("401"), "{}", r.checks[0].detail);
    assert_eq!(r.checks[0].field.as_deref(), Some("access_key"));

    // Nothing was created, changed or deleted: the same inventory, and only reads were sent.
    let sent = methods_since(&log, log_start);
    assert!(
        sent.len() > 20,
        "the checks went through the cloud: {sent:?}"
    );
    let writes: Vec<&String> = sent.iter().filter(|m| !m.starts_with("GET ")).collect();
    assert!(writes.is_empty(), "pre-flight sent writes: {writes:#?}");
    assert_eq!(inventory(&c).await, before);
    h.shutdown().await;
}

#[tokio::test]
async fn reuse_ips_finds_an_unbound_eip_and_floating_ip_must_be_unbound() {
    let dir = tempfile::tempdir().unwrap();
    let (h, c, f) = start(dir.path()).await;
    let wait = WaitPolicy::with_timeout(std::time::Duration::from_secs(30));
    let eip = Cloud::create_eip(&c, &cce_cloud::models::EipCreate::new("spare", 5), &wait)
        .await
        .unwrap();

    let mut cfg = good(&f);
    cfg.eip_bandwidth_size = 0;
    cfg.reuse_ips = true;
    let r = preflight::run(&c, &cfg).await;
    assert_eq!(r.worst(), Status::Ok, "{}", r.render_text());
    assert!(r.render_text().contains(&eip.id));

    cfg.reuse_ips = false;
    cfg.floating_ip = Some(eip.id.clone());
    assert_eq!(preflight::run(&c, &cfg).await.worst(), Status::Ok);

    // Once bound to a server's port it is no longer free.
    let server = Cloud::create_server(
        &c,
        &ServerCreate {
            name: "holder".into(),
            image_ref: f.cce_image.clone(),
            flavor_ref: "s7n.large.2".into(),
            vpcid: f.vpc.clone(),
            nics: vec![NicSpec {
                subnet_id: f.subnet.clone(),
                ip_address: None,
            }],
            root_volume: RootVolume {
                volumetype: "SSD".into(),
                size: Some(40),
            },
            publicip: Some(serde_json::json!({"id": eip.id})),
            ..Default::default()
        },
        &wait,
    )
    .await
    .unwrap();
    let shown = Cloud::show_eip(&c, &eip.id).await.unwrap();
    assert!(
        shown.port_id.is_some(),
        "the EIP is bound to {}: {shown:?}",
        server.id
    );
    let r = preflight::run(&c, &cfg).await;
    assert!(
        only_failure(&r, "floating_ip")
            .detail
            .contains("already bound"),
        "{}",
        r.render_text()
    );
    h.shutdown().await;
}

#[tokio::test]
async fn ssh_rules_for_a_narrower_range_or_a_group_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let (h, c, f) = start(dir.path()).await;
    let rule = |prefix: Option<&str>, group: Option<&str>| cce_cloud::models::SecurityGroupRule {
        security_group_id: Some(f.sg_no_ssh.clone()),
        direction: "ingress".into(),
        ethertype: Some("IPv4".into()),
        protocol: Some("tcp".into()),
        port_range_min: Some(22),
        port_range_max: Some(22),
        remote_ip_prefix: prefix.map(Into::into),
        remote_group_id: group.map(Into::into),
        ..Default::default()
    };
    let mut cfg = good(&f);
    cfg.security_groups = vec![SecurityGroupRef::Id(f.sg_no_ssh.clone())];
    let sg_check = |r: &PreflightReport| {
        r.checks
            .iter()
            .find(|c| c.name.starts_with("security group"))
            .unwrap()
            .clone()
    };
    // The security-group check, which must be a warning naming `security_groups`.
    let sg_warning = |r: &PreflightReport| {
        let check = sg_check(r);
        assert_eq!(
            (check.status, check.field.as_deref()),
            (Status::Warn, Some("security_groups")),
            "{}",
            r.render_text()
        );
        check
    };

    // A narrower address range: a warning without the host's address, a verdict with it.
    c.create_security_group_rule(&rule(Some("198.51.100.0/24"), None))
        .await
        .unwrap();
    let check = sg_warning(&preflight::run(&c, &cfg).await);
    assert!(
        check
            .detail
            .contains("admits TCP 22 only from 198.51.100.0/24"),
        "{}",
        check.detail
    );
    let inside = Options {
        ssh_source: Some("198.51.100.7".parse().unwrap()),
    };
    assert_eq!(
        sg_check(&preflight::run_with(&c, &cfg, &inside).await).status,
        Status::Ok
    );
    let outside = Options {
        ssh_source: Some("203.0.113.9".parse().unwrap()),
    };
    let r = preflight::run_with(&c, &cfg, &outside).await;
    assert!(
        only_failure(&r, "security_groups")
            .detail
            .contains("does not admit TCP 22 from 203.0.113.9 (this host)"),
        "{}",
        r.render_text()
    );

    // Members of a group: the cloud counts it as admitting, but this host may not be one.
    c.create_security_group_rule(&rule(None, Some(&f.sg_ssh)))
        .await
        .unwrap();
    let check = sg_warning(&preflight::run(&c, &cfg).await);
    assert!(
        check.detail.contains(&format!(
            "only from members of security group {}, and from 198.51.100.0/24",
            f.sg_ssh
        )),
        "{}",
        check.detail
    );
    let r = preflight::run_with(&c, &cfg, &outside).await;
    assert_eq!(sg_check(&r).status, Status::Warn, "{}", r.render_text());
    assert!(
        sg_check(&r)
            .detail
            .contains("from 203.0.113.9 only if this host is a member of security group"),
        "{}",
        r.render_text()
    );
    // An address rule for this host settles it.
    assert_eq!(
        sg_check(&preflight::run_with(&c, &cfg, &inside).await).status,
        Status::Ok
    );
    h.shutdown().await;
}

#[tokio::test]
async fn image_filters_key_pairs_and_private_ip_builds_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (h, c, f) = start(dir.path()).await;
    let base = |extra: &str| {
        cfg(&format!(
            "  flavor = \"s7n.large.2\"\n  vpc_id = \"{}\"\n  subnets = [\"{}\"]\n  eip_bandwidth_size = 5\n{extra}",
            f.vpc, f.subnet
        ))
    };

    // A filter: by name, by properties, ambiguous without most_recent, matching nothing.
    let r = preflight::run(&c, &base("  source_image_filter {\n    filters {\n      name = \"Debian 12 CCE node base (local sandbox rootfs)\"\n      visibility = \"public\"\n    }\n  }")).await;
    assert_eq!(r.worst(), Status::Ok, "{}", r.render_text());
    assert!(r.render_text().contains(&f.cce_image));
    let props = "  source_image_filter {\n    filters {\n      properties = { __platform = \"Debian\" }\n    }\n    most_recent = true\n  }";
    assert!(preflight::run(&c, &base(props)).await.passed());
    let ambiguous = props.replace("    most_recent = true\n", "");
    let fail = only_failure(
        &preflight::run(&c, &base(&ambiguous)).await,
        "source_image_filter",
    )
    .clone();
    assert!(fail.detail.contains("2 images match"), "{fail:?}");
    let none = "  source_image_filter {\n    filters {\n      name = \"Windows\"\n    }\n  }";
    only_failure(
        &preflight::run(&c, &base(none)).await,
        "source_image_filter",
    );

    // An existing key pair must exist.
    let image = format!("  source_image = \"{}\"\n", f.cce_image);
    let with_key = format!(
        "{image}  ssh_keypair_name = \"my-key\"\n  ssh_private_key_file = \"/nonexistent/key\""
    );
    only_failure(
        &preflight::run(&c, &base(&with_key)).await,
        "ssh_keypair_name",
    );
    Cloud::create_keypair(&c, "my-key", None).await.unwrap();
    let r = preflight::run(&c, &base(&with_key)).await;
    assert!(
        r.checks
            .iter()
            .any(|c| c.name == "key pair my-key" && c.status == Status::Ok),
        "{}",
        r.render_text()
    );

    // No public IP: SSH goes to the private address, said plainly.
    let mut private = base(&image);
    private.associate_public_ip_address = false;
    private.eip_bandwidth_size = 0;
    let r = preflight::run(&c, &private).await;
    assert_eq!(r.worst(), Status::Ok, "{}", r.render_text());
    assert!(
        r.render_text()
            .contains("[ok] public ip: associate_public_ip_address is false"),
        "{}",
        r.render_text()
    );

    // No vpc_id: the temporary network is announced, not checked.
    let mut temp = base(&image);
    temp.vpc_id = None;
    temp.subnets.clear();
    let r = preflight::run(&c, &temp).await;
    assert!(
        r.render_text()
            .contains("[ok] network: vpc_id is not set: a temporary VPC 172.16.0.0/16"),
        "{}",
        r.render_text()
    );
    h.shutdown().await;
}
