//! The huaweicloud-ecs builder end to end against an in-process local cloud whose servers are
//! real sandboxes reached over SSH: a full build leaves exactly one image and closes every
//! intent of its journal; a failing provisioner, a failing IMS job and an interrupt leave
//! nothing at all. Needs root (under `CI=true` a missing prerequisite fails the test).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cce_cloud::models::ServerQuery;
use cce_cloud::{Client, Cloud, Waits};
use cce_engine::ecs_build::{EcsBuild, EcsBuildOutcome, EcsOptions, OnFailure};
use cce_engine::events::{Event, RecordingReporter, Reporter};
use cce_engine::interrupt::{self, Interrupt, Interrupter, Signal};
use cce_engine::ledger::{
    BUILD_TAG, BuildHeader, CloudKind, CloudTarget, Ledger, Record, ResourceKind, new_build_id,
    resource_name,
};
use cce_engine::redact::Redactor;
use cce_localcloud::{
    Config, FaultKind, FaultRule, LocalCloud, LocalCloudHandle, SandboxBackend, SandboxConfig,
};
use serde_json::Value;

struct Env {
    dir: tempfile::TempDir,
    handle: LocalCloudHandle,
    client: Client,
    log: PathBuf,
}

/// A local cloud with sandbox servers recording every request, or none (after saying why) when
/// this host cannot run sandboxes. Its state lives under `/var/tmp`, which sandboxes (other
/// users) can search.
async fn sandbox_cloud() -> Option<Env> {
    if !common::sandbox_prerequisites() {
        return None;
    }
    Some(start_cloud_with(true).await)
}

/// `sandboxes = false`: servers are records only (no root needed), for builds that fail before
/// a server is made.
async fn start_cloud_with(sandboxes: bool) -> Env {
    start_cloud_tweaked(sandboxes, |_| {}).await
}

async fn start_cloud_tweaked(sandboxes: bool, tweak: impl FnOnce(&mut Config)) -> Env {
    let dir = tempfile::Builder::new()
        .prefix(&format!(
            "cce-ecs-{}-",
            std::thread::current()
                .name()
                .unwrap_or("build")
                .replace("::", "-")
        ))
        .tempdir_in(if sandboxes { "/var/tmp" } else { "/tmp" })
        .expect("temp dir");
    let state = dir.path().join("cloud");
    let log = dir.path().join("requests.jsonl");
    let mut config = Config::new(&state);
    config.request_log = Some(log.clone());
    // Tests run side by side, each with its own cloud: EIP addresses must not collide.
    let octets = uuid::Uuid::new_v4().as_bytes()[..2].to_vec();
    config.eip_pool = (
        std::net::Ipv4Addr::new(127, 101 + octets[0] % 100, octets[1], 10),
        64,
    );
    tweak(&mut config);
    let handle = if sandboxes {
        let backend = SandboxBackend::new(
            SandboxConfig::new(&state, |k| std::env::var(k).ok()),
            tokio::runtime::Handle::current(),
        );
        LocalCloud::start_with_backend(config, Arc::new(backend))
            .await
            .expect("local cloud starts")
    } else {
        LocalCloud::start(config).await.expect("local cloud starts")
    };
    let client = common::client(&handle);
    Env {
        dir,
        handle,
        client,
        log,
    }
}

fn template(image_name: &str, provisioner: &str) -> String {
    format!(
        r##"
source "huaweicloud-ecs" "node" {{
  image_name         = "{image_name}"
  image_description  = "built by the ecs_build test"
  image_tags         = {{ purpose = "ecs-build-test" }}
  image_min_disk     = 12
  eip_bandwidth_size = 5
  eip_type           = "5_sbgp"
  instance_metadata  = {{ role = "test" }}
  user_data          = "#!/bin/sh\necho from-user-data > /root/user-data-ran\n"
  ssh_username       = "root"
  ssh_timeout        = "2m"
  ssh_clear_authorized_keys = true
  pause_before_connecting   = "200ms"
}}

build {{
  sources = ["source.huaweicloud-ecs.node"]
  provisioner "shell" {{
    inline = [{provisioner}]
  }}
}}
"##
    )
}

/// When to fire the interrupt.
#[derive(Clone, Copy, PartialEq, Eq)]
enum InterruptAt {
    Never,
    /// Once the server exists (its id journaled).
    ServerCreated,
    /// A moment into the server's create call, while its id is not known yet.
    DuringServerCreate,
}

/// Reports every event and fires the interrupt at the chosen point.
struct Interrupting {
    inner: RecordingReporter,
    interrupter: Interrupter,
    at: InterruptAt,
}

impl Reporter for Interrupting {
    fn report(&self, event: &Event) -> std::io::Result<()> {
        match (self.at, event) {
            (
                InterruptAt::ServerCreated,
                Event::ResourceCreated {
                    kind: ResourceKind::Server,
                    ..
                },
            ) => {
                self.interrupter.interrupt(Signal::Interrupt);
            }
            (InterruptAt::DuringServerCreate, Event::StepStarted { step, .. })
                if step == "Creating the server..." =>
            {
                let i = self.interrupter.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(std::time::Duration::from_millis(400));
                    i.interrupt(Signal::Terminate);
                });
            }
            _ => {}
        }
        self.inner.report(event)
    }
}

struct Run {
    outcome: EcsBuildOutcome,
    ledger: Arc<Ledger>,
    events: Vec<Event>,
    build_id: String,
}

async fn run_build(env: &Env, template_text: &str, interrupt_on_server: InterruptAt) -> Run {
    let work = env.dir.path().join(format!("work-{}", rand_suffix()));
    std::fs::create_dir_all(&work).expect("work dir");
    run_build_in(env, &work, template_text, interrupt_on_server).await
}

async fn run_build_in(
    env: &Env,
    work: &Path,
    template_text: &str,
    interrupt_on_server: InterruptAt,
) -> Run {
    run_build_opts(
        env,
        work,
        template_text,
        interrupt_on_server,
        EcsOptions::default(),
        OnFailure::Cleanup,
    )
    .await
}

async fn run_build_opts(
    env: &Env,
    work: &Path,
    template_text: &str,
    interrupt_on_server: InterruptAt,
    options: EcsOptions,
    on_error: OnFailure,
) -> Run {
    let work = work.to_path_buf();
    let plan = common::plan(&work, template_text);
    let build = &plan.builds[0];
    let source = &build.sources[0];
    let build_id = new_build_id();
    let header = BuildHeader {
        build_id: build_id.clone(),
        template: work.join("build.pkr.hcl").display().to_string(),
        cloud: CloudTarget {
            kind: CloudKind::Local,
            region: env.handle.region.clone(),
            endpoints_file: None,
            local_state_dir: None,
        },
        pid: std::process::id(),
    };
    let ledger = Arc::new(Ledger::create(&work.join("state"), &build_id, header).expect("ledger"));
    let redactor = Redactor::new();
    let recorder = Arc::new(RecordingReporter::new(redactor.clone()));
    let (interrupter, interrupt): (Interrupter, Interrupt) = interrupt::channel();
    let reporter: Arc<dyn Reporter> = if interrupt_on_server == InterruptAt::Never {
        recorder.clone()
    } else {
        Arc::new(Interrupting {
            inner: RecordingReporter::new(redactor.clone()),
            interrupter: interrupter.clone(),
            at: interrupt_on_server,
        })
    };
    let cloud: Arc<dyn Cloud> = Arc::new(env.client.clone());
    let job = EcsBuild {
        build,
        source,
        cloud,
        ledger: Arc::clone(&ledger),
        reporter: Arc::clone(&reporter),
        redactor,
        run_uuid: "run-uuid".into(),
        cwd: work.clone(),
        on_error,
        interrupt,
        waits: Waits::default(),
        log_file: None,
        local_cloud: true,
        options,
    };
    let outcome = job.run().await;
    drop(interrupter);
    let events = recorder.events();
    Run {
        outcome,
        ledger,
        events,
        build_id,
    }
}

/// Stops sandboxes still running from this test's own local cloud (their disk is under `dir`),
/// by their cgroup; returns their ids. Deleting a server while it still boots leaves its sandbox
/// running in the local cloud (a known fault of the sandbox backend, not of the build), and a
/// test must not leave machines behind on a shared host.
fn reap_own_sandboxes(dir: &Path) -> Vec<String> {
    own_sandboxes(dir, true)
}

/// The running sandboxes whose disk is under `dir` (killed and removed when `kill`).
fn own_sandboxes(dir: &Path, kill: bool) -> Vec<String> {
    let mut reaped = Vec::new();
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return reaped;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_prefix("cce-sb-") else {
            continue;
        };
        let pids = std::process::Command::new("ip")
            .args(["netns", "pids", &name])
            .output();
        let Some(pid) = pids.ok().and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .next()
                .map(str::to_string)
        }) else {
            continue;
        };
        let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
        if !mounts.contains(&format!("upperdir={}/", dir.display())) {
            continue;
        }
        if !kill {
            reaped.push(id.to_string());
            continue;
        }
        for root in [
            "/sys/fs/cgroup/unified/cce-sandboxes",
            "/sys/fs/cgroup/cce-sandboxes",
        ] {
            let cg = Path::new(root).join(id);
            if cg.join("cgroup.kill").exists() {
                let _ = std::fs::write(cg.join("cgroup.kill"), "1");
                // Killed processes take a moment to leave; a populated cgroup cannot be removed.
                for _ in 0..50 {
                    let events =
                        std::fs::read_to_string(cg.join("cgroup.events")).unwrap_or_default();
                    if !events.contains("populated 1") {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                remove_dir_tree(&cg);
            }
        }
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &name])
            .output();
        reaped.push(id.to_string());
    }
    reaped
}

/// Removes a tree of empty directories (a cgroup and its children), deepest first.
fn remove_dir_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_dir_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

fn rand_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

/// Every resource of the build still in the cloud, by kind and name (the image excluded).
async fn leftovers(c: &Client, build_id: &str) -> Vec<String> {
    let mut left = Vec::new();
    let name = |k: ResourceKind| resource_name(build_id, &k);
    let servers = c
        .list_servers(&ServerQuery::default())
        .await
        .expect("list servers")
        .servers;
    left.extend(
        servers
            .iter()
            .filter(|s| s.name == name(ResourceKind::Server) && s.status != "DELETED")
            .map(|s| format!("server {}", s.id)),
    );
    let kps = c.list_keypairs().await.expect("list keypairs");
    left.extend(
        kps.iter()
            .filter(|k| k.name == name(ResourceKind::Keypair))
            .map(|k| format!("keypair {}", k.name)),
    );
    let eips = c.list_eips().await.expect("list eips");
    left.extend(
        eips.iter()
            .filter(|e| e.alias.as_deref() == Some(name(ResourceKind::Eip).as_str()))
            .map(|e| format!("eip {}", e.id)),
    );
    let vpcs = c.list_vpcs().await.expect("list vpcs");
    left.extend(
        vpcs.iter()
            .filter(|v| v.name == name(ResourceKind::Vpc))
            .map(|v| format!("vpc {}", v.id)),
    );
    let subnets = c.list_subnets(None).await.expect("list subnets");
    left.extend(
        subnets
            .iter()
            .filter(|s| s.name == name(ResourceKind::Subnet))
            .map(|s| format!("subnet {}", s.id)),
    );
    left
}

/// The id of the local cloud's public Debian image, the one sandbox servers boot from.
async fn gold_image(c: &Client) -> String {
    let q = cce_cloud::models::ImageQuery {
        name: Some("Debian 12 (local sandbox rootfs)".into()),
        ..Default::default()
    };
    c.list_images(&q).await.unwrap()[0].id.clone()
}

async fn images_named(c: &Client, name: &str) -> Vec<String> {
    let q = cce_cloud::models::ImageQuery {
        name: Some(name.into()),
        image_type: Some("private".into()),
        ..Default::default()
    };
    c.list_images(&q)
        .await
        .expect("list images")
        .into_iter()
        .filter(|i| i.name == name && i.status != "deleted")
        .map(|i| i.id)
        .collect()
}

fn requests(log: &Path, op: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["op"] == op)
        .collect()
}

/// Nothing of the build is left in the cloud, and its journal has no open intent.
async fn assert_nothing_left(env: &Env, run: &Run) {
    assert_eq!(
        leftovers(&env.client, &run.build_id).await,
        Vec::<String>::new()
    );
    assert!(
        run.ledger.outstanding().is_empty(),
        "{:?}",
        run.ledger.outstanding()
    );
}

/// No image of that name exists.
async fn assert_no_image(env: &Env, name: &str) {
    assert_eq!(images_named(&env.client, name).await, Vec::<String>::new());
}

fn kept_image(ledger: &Ledger) -> bool {
    ledger
        .journal()
        .entries
        .iter()
        .any(|e| matches!(&e.record, Record::Kept { .. }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_leaves_only_its_image() {
    let Some(env) = sandbox_cloud().await else {
        return;
    };
    let image_name = format!("cce-ecs-test-{}", rand_suffix());
    let run = run_build(
        &env,
        &template(
            &image_name,
            r#""echo provisioned-$(cat /root/user-data-ran) | tee /root/marker", "echo '${build.SSHPrivateKey}' | sed -n 2p""#,
        ),
        InterruptAt::Never,
    )
    .await;
    let o = &run.outcome;
    assert_eq!(o.error, None, "events: {:#?}", run.events);
    assert!(
        !o.interrupted && o.cleaned_up && o.cleanup_failures.is_empty(),
        "{o:?}"
    );
    let image_id = o.artifact_id.clone().expect("an image id");

    // The provisioner ran on the server, after the user data.
    let out: Vec<&str> = run
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Output { line, .. } => Some(line.as_str()),
            _ => None,
        })
        .collect();
    assert!(out.contains(&"provisioned-from-user-data"), "{out:?}");
    // The temporary private key is a secret: a line of it printed by a script is redacted.
    assert!(out.contains(&"<sensitive>"), "{out:?}");
    assert!(run.events.iter().any(|e| matches!(e, Event::Artifact { builder_id, id, .. } if builder_id == "huawei.huaweicloud" && *id == image_id)));

    // The image is there, active, with the template's tags, the build tag and the minimum disk.
    let img = env
        .client
        .show_image(&image_id)
        .await
        .expect("show image")
        .expect("the image exists");
    assert_eq!(img.status, "active");
    assert_eq!(img.name, image_name);
    assert!(
        img.tags.contains(&"purpose=ecs-build-test".to_string()),
        "{:?}",
        img.tags
    );
    assert!(
        img.tags.contains(&format!("{BUILD_TAG}={}", run.build_id)),
        "{:?}",
        img.tags
    );
    assert_eq!(img.min_disk, Some(12));

    assert!(run.events.iter().any(|e| matches!(e, Event::StepStarted { step, .. } if step == "Pausing 200ms before connecting...")));

    // ssh_clear_authorized_keys took the temporary key out of the image.
    let keys_file = env
        .dir
        .path()
        .join("cloud/layers")
        .join(&image_id)
        .join("root/.ssh/authorized_keys");
    let keys = std::fs::read_to_string(&keys_file).expect("authorized_keys is in the image");
    assert!(
        !keys.contains(&resource_name(&run.build_id, &ResourceKind::Keypair)),
        "{keys}"
    );

    // Nothing else of the build is left, and the journal agrees.
    assert_nothing_left(&env, &run).await;
    assert!(kept_image(&run.ledger));

    // The template's fields reached the API.
    let create = requests(&env.log, "CreatePostPaidServers");
    assert_eq!(create.len(), 1);
    let s = &create[0]["body"]["server"];
    assert_eq!(s["metadata"]["role"], "test");
    assert_eq!(
        s["name"],
        resource_name(&run.build_id, &ResourceKind::Server)
    );
    assert!(s["publicip"]["id"].is_string(), "{s}");
    assert!(
        s["user_data"].as_str().is_some_and(|u| !u.contains(' ')),
        "base64 user data: {s}"
    );
    assert_eq!(
        s["key_name"],
        resource_name(&run.build_id, &ResourceKind::Keypair)
    );
    assert!(
        s["server_tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["key"] == BUILD_TAG)),
        "{s}"
    );
    let image = requests(&env.log, "CreateImage");
    assert_eq!(
        image[0]["body"]["description"],
        "built by the ecs_build test"
    );
    let eip = requests(&env.log, "CreatePublicip");
    assert_eq!(
        eip.first().map(|e| e["body"]["bandwidth"]["size"].clone()),
        Some(Value::from(5)),
        "{eip:?}"
    );
    assert_eq!(eip[0]["body"]["publicip"]["type"], "5_sbgp");
    assert_eq!(
        eip[0]["body"]["publicip"]["alias"],
        resource_name(&run.build_id, &ResourceKind::Eip).as_str()
    );
    env.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_provisioner_leaves_nothing() {
    let Some(env) = sandbox_cloud().await else {
        return;
    };
    let image_name = format!("cce-ecs-fail-{}", rand_suffix());
    // Without an EIP (associate_public_ip_address = false) SSH goes to the private IP.
    let tpl = template(&image_name, r#""echo about-to-fail", "exit 3""#).replace(
        "eip_bandwidth_size = 5\n  eip_type           = \"5_sbgp\"",
        "associate_public_ip_address = false",
    );
    assert!(tpl.contains("associate_public_ip_address = false"));
    let run = run_build(&env, &tpl, InterruptAt::Never).await;
    let o = &run.outcome;
    assert!(requests(&env.log, "CreatePublicip").is_empty());
    let servers = requests(&env.log, "CreatePostPaidServers");
    assert!(
        servers[0]["body"]["server"].get("publicip").is_none(),
        "{}",
        servers[0]
    );
    assert!(
        run.events
            .iter()
            .any(|e| matches!(e, Event::Output { line, .. } if line == "about-to-fail"))
    );
    assert!(o.error.as_deref().is_some_and(|e| e.contains('3')), "{o:?}");
    assert!(
        o.artifact_id.is_none() && !o.interrupted && o.cleaned_up,
        "{o:?}"
    );
    assert_no_image(&env, &image_name).await;
    assert_nothing_left(&env, &run).await;
    assert!(!kept_image(&run.ledger));
    env.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_image_job_leaves_nothing() {
    let Some(env) = sandbox_cloud().await else {
        return;
    };
    env.handle.add_faults(vec![FaultRule {
        op: "CreateImage".into(),
        nth: None,
        times: None,
        kind: FaultKind::JobFail {
            fail_reason: "disk capture failed (injected)".into(),
        },
    }]);
    let image_name = format!("cce-ecs-imsfail-{}", rand_suffix());
    let run = run_build(
        &env,
        &template(&image_name, r#""true""#),
        InterruptAt::Never,
    )
    .await;
    let o = &run.outcome;
    assert!(
        o.error.as_deref().is_some_and(|e| e.contains("injected")),
        "{o:?}"
    );
    assert!(o.artifact_id.is_none() && o.cleaned_up, "{o:?}");
    assert_no_image(&env, &image_name).await;
    assert_nothing_left(&env, &run).await;
    env.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_after_the_server_is_active_leaves_nothing() {
    let Some(env) = sandbox_cloud().await else {
        return;
    };
    let image_name = format!("cce-ecs-int-{}", rand_suffix());
    let run = run_build(
        &env,
        &template(&image_name, r#""sleep 30""#),
        InterruptAt::ServerCreated,
    )
    .await;
    let o = &run.outcome;
    assert!(o.interrupted, "{o:?}");
    assert!(o.artifact_id.is_none() && o.cleaned_up, "{o:?}");
    let servers = requests(&env.log, "CreatePostPaidServers");
    assert_eq!(
        servers.len(),
        1,
        "the server was created before the interrupt"
    );
    assert_no_image(&env, &image_name).await;
    assert_nothing_left(&env, &run).await;
    let finished = run.ledger.journal().finished();
    assert_eq!(
        finished,
        Some(cce_engine::ledger::FinishStatus::Interrupted)
    );
    env.handle.shutdown().await;
}

/// The template's server, network, EIP and image fields reach the API as the plugin sends them,
/// and an EIP taken with `reuse_ips` is bound but never deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_fields_reach_the_api() {
    let Some(env) = sandbox_cloud().await else {
        return;
    };
    let spare = env
        .client
        .create_eip(&cce_cloud::models::EipCreate::new("spare-eip-for-reuse", 3))
        .await
        .expect("an unbound EIP to reuse");
    let suffix = rand_suffix();
    let image_name = format!("cce-ecs-fields-{suffix}");
    let instance_name = format!("fields-server-{suffix}");
    let member = "0123456789abcdef0123456789abcdef";
    let work_template = format!(
        r##"
source "huaweicloud-ecs" "node" {{
  image_name               = "{image_name}"
  instance_name            = "{instance_name}"
  availability_zone        = "ru-moscow-1a"
  flavor                   = "s7n.large.2"
  source_image_name        = "Debian 12 (local sandbox rootfs)"
  security_groups          = ["default"]
  volume_type              = "SAS"
  volume_size              = 20
  image_type               = "system"
  data_disks {{
    volume_size = 10
    volume_type = "SSD"
  }}
  enterprise_project_id    = "0"
  spot_pricing             = true
  spot_maximum_price       = "0.5"
  reuse_ips                = true
  image_members            = ["{member}"]
  wait_image_ready_timeout = "5m"
  user_data_file           = "user-data.sh"
  ssh_username             = "root"
}}

build {{
  sources = ["source.huaweicloud-ecs.node"]
  provisioner "shell" {{
    inline = ["test -f /root/user-data-ran", "echo 'id=${{build.ID}} user=${{build.User}} src=${{build.SourceImageName}} conn=${{build.ConnType}}'"]
  }}
}}
"##
    );
    // The user data file is read relative to the build's working directory.
    let user_data = "#!/bin/sh\ntouch /root/user-data-ran\n";
    let run = {
        let dir = env.dir.path().join(format!("work-{}", rand_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("user-data.sh"), user_data).unwrap();
        run_build_in(&env, &dir, &work_template, InterruptAt::Never).await
    };
    let o = &run.outcome;
    assert_eq!(o.error, None, "{o:?}");
    let image_id = o.artifact_id.clone().expect("an image");
    // The build.* values provisioners see.
    let server_id = run
        .events
        .iter()
        .find_map(|e| match e {
            Event::ResourceCreated {
                kind: ResourceKind::Server,
                id,
                ..
            } => Some(id.clone()),
            _ => None,
        })
        .expect("a server was created");
    let want = format!("id={server_id} user=root src=Debian 12 (local sandbox rootfs) conn=ssh");
    assert!(
        run.events
            .iter()
            .any(|e| matches!(e, Event::Output { line, .. } if *line == want)),
        "{want}: {:#?}",
        run.events
    );

    let gold = gold_image(&env.client).await;
    let groups = env.client.list_security_groups().await.unwrap();
    let default_sg = groups
        .iter()
        .find(|g| g.name == "default")
        .expect("a default group")
        .id
        .clone();
    let create = requests(&env.log, "CreatePostPaidServers");
    let s = &create[0]["body"]["server"];
    assert_eq!(s["name"], instance_name.as_str());
    assert_eq!(s["availability_zone"], "ru-moscow-1a");
    assert_eq!(s["flavorRef"], "s7n.large.2");
    assert_eq!(s["imageRef"], gold.as_str());
    assert_eq!(
        s["security_groups"],
        serde_json::json!([{"id": default_sg}])
    );
    assert_eq!(
        s["root_volume"],
        serde_json::json!({"volumetype": "SAS", "size": 20})
    );
    assert_eq!(
        s["data_volumes"],
        serde_json::json!([{"volumetype": "SSD", "size": 10}])
    );
    assert_eq!(s["extendparam"]["enterprise_project_id"], "0");
    assert_eq!(s["extendparam"]["marketType"], "spot");
    assert_eq!(s["extendparam"]["spotPrice"], "0.5");
    assert_eq!(s["publicip"]["id"], spare.id.as_str());
    use base64::Engine as _;
    assert_eq!(
        s["user_data"],
        base64::engine::general_purpose::STANDARD
            .encode(user_data)
            .as_str()
    );
    let image = requests(&env.log, "CreateImage");
    assert_eq!(image[0]["body"]["enterprise_project_id"], "0");
    let vpc = requests(&env.log, "CreateVpc");
    assert_eq!(
        vpc[0]["body"]["vpc"]["enterprise_project_id"], "0",
        "{vpc:?}"
    );
    let members = requests(&env.log, "BatchAddMembers");
    assert_eq!(members[0]["body"]["projects"], serde_json::json!([member]));
    assert_eq!(members[0]["body"]["images"], serde_json::json!([image_id]));
    // No temporary EIP was made, and the reused one stays.
    assert!(
        requests(&env.log, "CreatePublicip").len() == 1,
        "only the test's own EIP"
    );
    let kept = env
        .client
        .show_eip(&spare.id)
        .await
        .expect("the reused EIP still exists");
    assert!(
        kept.port_id.as_deref().is_none_or(str::is_empty),
        "unbound again: {kept:?}"
    );
    let servers = env
        .client
        .list_servers(&ServerQuery::default())
        .await
        .unwrap()
        .servers;
    assert!(
        !servers
            .iter()
            .any(|s| s.name == instance_name && s.status != "DELETED"),
        "the server is gone"
    );
    assert_nothing_left(&env, &run).await;
    env.handle.shutdown().await;
}

/// A template naming the default VPC, subnet and an existing EIP and image uses them and leaves
/// them; `-force` deletes an earlier image of the same name first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_network_eip_and_image_are_used_and_kept() {
    let Some(env) = sandbox_cloud().await else {
        return;
    };
    let vpc = env
        .client
        .list_vpcs()
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.name == "vpc-default")
        .expect("default vpc");
    let subnet = env
        .client
        .list_subnets(Some(&vpc.id))
        .await
        .unwrap()
        .into_iter()
        .next()
        .expect("default subnet");
    let eip = env
        .client
        .create_eip(&cce_cloud::models::EipCreate::new("fixed-eip", 2))
        .await
        .expect("an EIP");
    let gold = gold_image(&env.client).await;
    let image_name = format!("cce-ecs-existing-{}", rand_suffix());
    // An existing keypair with its private key in a file: used, never created or deleted.
    let kp_name = format!("existing-kp-{}", rand_suffix());
    let kp = env
        .client
        .create_keypair(&kp_name, None)
        .await
        .expect("a keypair");
    let key_file = env.dir.path().join("existing-key");
    std::fs::write(
        &key_file,
        kp.private_key.clone().expect("a generated private key"),
    )
    .unwrap();
    let tpl = format!(
        r#"
source "huaweicloud-ecs" "node" {{
  image_name   = "{image_name}"
  source_image = "{gold}"
  vpc_id       = "{vpc}"
  subnets      = ["{subnet}"]
  floating_ip  = "{eip}"
  ssh_username = "root"
  ssh_keypair_name     = "{kp_name}"
  ssh_private_key_file = "{key_file}"
}}
build {{
  sources = ["source.huaweicloud-ecs.node"]
  provisioner "shell" {{
    inline = ["true"]
  }}
}}
"#,
        vpc = vpc.id,
        subnet = subnet.id,
        eip = eip.id,
        key_file = key_file.display()
    );
    let first = run_build(&env, &tpl, InterruptAt::Never).await;
    let first_image = first
        .outcome
        .artifact_id
        .clone()
        .unwrap_or_else(|| panic!("{:?}", first.outcome));
    let dir = env.dir.path().join(format!("work-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let second = run_build_opts(
        &env,
        &dir,
        &tpl,
        InterruptAt::Never,
        EcsOptions {
            force: true,
            ..Default::default()
        },
        OnFailure::Cleanup,
    )
    .await;
    let second_image = second
        .outcome
        .artifact_id
        .clone()
        .unwrap_or_else(|| panic!("{:?}", second.outcome));
    assert_eq!(
        images_named(&env.client, &image_name).await,
        vec![second_image],
        "-force removed {first_image}"
    );

    let servers = requests(&env.log, "CreatePostPaidServers");
    for s in &servers {
        let s = &s["body"]["server"];
        assert_eq!(s["vpcid"], vpc.id.as_str());
        assert_eq!(s["nics"], serde_json::json!([{"subnet_id": subnet.id}]));
        assert_eq!(s["publicip"]["id"], eip.id.as_str());
        assert_eq!(s["imageRef"], gold.as_str());
        assert_eq!(s["key_name"], kp_name.as_str());
    }
    assert!(
        requests(&env.log, "NovaCreateKeypair").len() == 1,
        "only the test's own keypair"
    );
    assert!(
        env.client
            .list_keypairs()
            .await
            .unwrap()
            .iter()
            .any(|k| k.name == kp_name),
        "the keypair stays"
    );
    assert!(
        requests(&env.log, "CreateVpc").is_empty() && requests(&env.log, "CreateSubnet").is_empty()
    );
    env.client.show_vpc(&vpc.id).await.expect("the VPC stays");
    env.client
        .show_subnet(&subnet.id)
        .await
        .expect("the subnet stays");
    env.client.show_eip(&eip.id).await.expect("the EIP stays");
    for r in [&first, &second] {
        assert_eq!(
            leftovers(&env.client, &r.build_id).await,
            Vec::<String>::new()
        );
        assert!(r.ledger.outstanding().is_empty());
    }
    env.handle.shutdown().await;
}

/// Bad choices fail with a message naming what to use, before any server, and what was made
/// concurrently (keypair, network) is removed. Servers are records only: no root needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_choices_fail_clearly_and_leave_nothing() {
    let env = start_cloud_with(false).await;
    let base = |extra: &str| {
        format!(
            "source \"huaweicloud-ecs\" \"node\" {{\n  image_name = \"cce-ecs-bad-{}\"\n  ssh_username = \"root\"\n{extra}\n}}\nbuild {{\n  sources = [\"source.huaweicloud-ecs.node\"]\n}}\n",
            rand_suffix()
        )
    };
    let cases = [
        (
            "availability_zone = \"nowhere-1z\"",
            "use one of ru-moscow-1a",
        ),
        ("flavor = \"no.such.flavor\"", "is not sold in"),
        (
            "source_image = \"00000000-0000-0000-0000-000000000000\"",
            "does not exist",
        ),
        (
            "source_image_filter {\n filters {\n visibility = \"public\"\n }\n}",
            "narrow the filters or set most_recent = true",
        ),
        (
            "security_groups = [\"no-such-group\"]",
            "security group \"no-such-group\" does not exist",
        ),
        (
            "vpc_id = \"no-such-vpc\"\n subnets = [\"s\"]",
            "vpc_id \"no-such-vpc\" does not exist",
        ),
    ];
    for (extra, want) in cases {
        let run = run_build(&env, &base(extra), InterruptAt::Never).await;
        let err = run.outcome.error.clone().unwrap_or_default();
        assert!(err.contains(want), "{extra}: {err}");
        assert_eq!(
            leftovers(&env.client, &run.build_id).await,
            Vec::<String>::new(),
            "{extra}"
        );
        assert!(
            run.ledger.outstanding().is_empty(),
            "{extra}: {:?}",
            run.ledger.outstanding()
        );
    }
    assert!(requests(&env.log, "CreatePostPaidServers").is_empty());

    // A filter with most_recent and v0.4.0 properties picks the newest matching base image.
    let run = run_build(
        &env,
        &base("flavor = \"no.such.flavor\"\n source_image_filter {\n filters {\n visibility = \"public\"\n properties = { __platform = \"Debian\" }\n }\n most_recent = true\n}"),
        InterruptAt::Never,
    )
    .await;
    assert!(run.events.iter().any(|e| matches!(e, Event::StepStarted { step, .. } if step.starts_with("source_image_filter matches 2 images: taking the newest"))), "{:#?}", run.events);
    env.handle.shutdown().await;
}

/// An interrupt while the server's create call still waits (its id not yet known, the leak of
/// plugin v1.x): cleanup finds the server by its unique name and removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_during_the_server_create_leaves_nothing() {
    let Some(env) = sandbox_cloud().await else {
        return;
    };
    let image_name = format!("cce-ecs-int2-{}", rand_suffix());
    let run = run_build(
        &env,
        &template(&image_name, r#""true""#),
        InterruptAt::DuringServerCreate,
    )
    .await;
    let o = &run.outcome;
    assert!(o.interrupted, "{o:?}");
    assert_eq!(
        requests(&env.log, "CreatePostPaidServers").len(),
        1,
        "the create was sent before the interrupt"
    );
    let server_intent = run.ledger.journal().entries.iter().any(|e| {
        matches!(
            &e.record,
            Record::Intent {
                kind: ResourceKind::Server,
                ..
            }
        )
    });
    assert!(server_intent, "the server was journaled before its create");
    assert!(
        o.artifact_id.is_none() && o.cleaned_up && o.cleanup_failures.is_empty(),
        "{o:?}"
    );
    assert_nothing_left(&env, &run).await;
    env.handle.shutdown().await;
    // A server deleted while it booted must not keep its sandbox: its delete may still be
    // stopping it for a moment, never longer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !own_sandboxes(env.dir.path(), false).is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let reaped = reap_own_sandboxes(env.dir.path());
    assert!(
        reaped.is_empty(),
        "the sandboxes of servers deleted while booting kept running: {reaped:?}"
    );
}

/// `-on-error=abort` and an `ask` answered "abort" leave what the build made, journaled for
/// `cleanup <id>`; an `ask` answered "clean up" removes it. Records-only servers: no root needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_error_abort_and_ask_decide_about_cleanup() {
    use cce_engine::ecs_build::FailureChoice;
    let env = start_cloud_with(false).await;
    let tpl = "source \"huaweicloud-ecs\" \"node\" {\n  image_name = \"cce-ecs-onerror\"\n  flavor = \"no.such.flavor\"\n  ssh_username = \"root\"\n}\nbuild {\n  sources = [\"source.huaweicloud-ecs.node\"]\n}\n";
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let ask = |answer: FailureChoice| {
        let asked = Arc::clone(&asked);
        OnFailure::Ask(Arc::new(move |step: &str, error: &str| {
            asked.lock().unwrap().push(format!("{step}: {error}"));
            answer
        }))
    };
    for (on_error, left) in [
        (OnFailure::Abort, true),
        (ask(FailureChoice::Abort), true),
        (ask(FailureChoice::Cleanup), false),
    ] {
        let what = format!("{on_error:?}");
        let dir = env.dir.path().join(format!("work-{}", rand_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        let run = run_build_opts(
            &env,
            &dir,
            tpl,
            InterruptAt::Never,
            EcsOptions::default(),
            on_error,
        )
        .await;
        assert!(
            run.outcome
                .error
                .as_deref()
                .is_some_and(|e| e.contains("is not sold in")),
            "{what}: {:?}",
            run.outcome
        );
        assert_eq!(run.outcome.cleaned_up, !left, "{what}");
        let remaining = leftovers(&env.client, &run.build_id).await;
        assert_eq!(!remaining.is_empty(), left, "{what}: {remaining:?}");
        assert_eq!(
            run.ledger.outstanding().len(),
            remaining.len(),
            "{what}: the journal knows every leftover"
        );
        if left {
            assert!(run.events.iter().any(|e| matches!(e, Event::Warning { message, .. } if message.contains(&format!("cce-image-builder cleanup {}", run.build_id)))), "{what}");
        }
    }
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(
        asked[0].starts_with("Loading availability zone and flavor...: flavor"),
        "{asked:?}"
    );
    env.handle.shutdown().await;
}

/// `-on-error=run-cleanup-provisioner`: the error-cleanup-provisioner runs on the server, and
/// the resources stay for inspection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_cleanup_provisioner_runs_it_and_keeps_the_resources() {
    let Some(env) = sandbox_cloud().await else {
        return;
    };
    let tpl = template(&format!("cce-ecs-rcp-{}", rand_suffix()), r#""exit 7""#).replace(
        "build {\n",
        "build {\n  error-cleanup-provisioner \"shell\" {\n    inline = [\"echo error-cleanup-ran-on-$(hostname)\"]\n  }\n",
    );
    let dir = env.dir.path().join(format!("work-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = run_build_opts(
        &env,
        &dir,
        &tpl,
        InterruptAt::Never,
        EcsOptions::default(),
        OnFailure::RunCleanupProvisioner,
    )
    .await;
    assert!(
        run.outcome.error.is_some() && !run.outcome.cleaned_up,
        "{:?}",
        run.outcome
    );
    let ran = run.events.iter().any(
        |e| matches!(e, Event::Output { line, .. } if line.starts_with("error-cleanup-ran-on-")),
    );
    assert!(ran, "{:#?}", run.events);
    let left = leftovers(&env.client, &run.build_id).await;
    assert!(left.iter().any(|l| l.starts_with("server ")), "{left:?}");
    assert_eq!(run.ledger.outstanding().len(), left.len());
    env.handle.shutdown().await;
}

/// `wait_image_ready_timeout` fires while the image is still being captured (the image leak of
/// the plugin): the build fails and cleanup finds the image by its name and build tag and
/// removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_wait_timeout_leaves_no_image() {
    if !common::sandbox_prerequisites() {
        return;
    }
    // The image takes 4 s to capture; the template waits 1 s.
    let env = start_cloud_tweaked(true, |c| {
        let mut l = cce_localcloud::Latency::of(cce_localcloud::Profile::Instant, 1.0);
        l.image_create = (
            std::time::Duration::from_secs(4),
            std::time::Duration::from_secs(4),
        );
        c.latency_override = Some(l);
    })
    .await;
    let image_name = format!("cce-ecs-imgwait-{}", rand_suffix());
    let tpl = template(&image_name, r#""true""#).replace(
        "ssh_timeout        = \"2m\"",
        "ssh_timeout = \"2m\"\n  wait_image_ready_timeout = \"1s\"",
    );
    let run = run_build(&env, &tpl, InterruptAt::Never).await;
    let o = &run.outcome;
    assert!(
        o.error
            .as_deref()
            .is_some_and(|e| e.contains("timeout") || e.contains("timed out")),
        "{o:?}"
    );
    assert!(
        o.artifact_id.is_none() && o.cleaned_up && o.cleanup_failures.is_empty(),
        "{o:?}"
    );
    assert_eq!(requests(&env.log, "CreateImage").len(), 1);
    assert_no_image(&env, &image_name).await;
    assert_nothing_left(&env, &run).await;
    env.handle.shutdown().await;
}

/// The image is kept only once the whole build succeeded: a failing post-processor fails the
/// build and cleanup removes the image with the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_post_processor_leaves_no_image() {
    let Some(env) = sandbox_cloud().await else {
        return;
    };
    let image_name = format!("cce-ecs-ppfail-{}", rand_suffix());
    let tpl = template(&image_name, r#""true""#).replace(
        "build {\n",
        "build {\n  post-processor \"shell-local\" {\n    inline = [\"exit 5\"]\n  }\n",
    );
    let run = run_build(&env, &tpl, InterruptAt::Never).await;
    let o = &run.outcome;
    assert!(
        o.error.is_some() && o.artifact_id.is_none() && o.cleaned_up,
        "{o:?}"
    );
    assert_eq!(
        requests(&env.log, "CreateImage").len(),
        1,
        "the image was made"
    );
    assert_no_image(&env, &image_name).await;
    assert_nothing_left(&env, &run).await;
    assert!(!kept_image(&run.ledger));
    env.handle.shutdown().await;
}
