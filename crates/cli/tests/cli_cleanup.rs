//! `cleanup` and `builds` through the real binary: journals written as crashed builds leave them,
//! resources made in a local cloud over signed HTTP, then the binary reconnects (restarting the
//! embedded local cloud from its state, or reaching a running one as the "real" cloud through
//! `CCE_ENDPOINTS_FILE`) and removes them; checked by listing afterwards.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use cce_cloud::models::{
    EipCreate, ImageCreate, ImageQuery, NicSpec, RootVolume, ServerCreate, Tag,
};
use cce_cloud::models::{SubnetCreate, VpcCreate};
use cce_cloud::{Client, ClientConfig, Cloud, EndpointsFile, Waits};
use cce_engine::ledger::{
    self, BuildHeader, CloudKind, CloudTarget, FinishStatus, Journal, Ledger, ResourceKind, Tags,
};
use cce_localcloud::{Config, LocalCloud, LocalCloudHandle};
use common::{local_client, sandboxes_ok, searchable_dir};

const BIN: &str = env!("CARGO_BIN_EXE_cce-image-builder");

/// Runs the binary with only the variables given (plus PATH), so the caller's HW_* or state
/// settings cannot leak in.
async fn cli(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let run = cmd.output();
    tokio::time::timeout(std::time::Duration::from_secs(300), run)
        .await
        .expect("the binary finishes within 5 minutes")
        .expect("the binary runs")
}

/// Runs the binary like [`cli`] and asserts its exit code (showing what it printed when it
/// differs): its stdout and stderr.
async fn cli_code(args: &[&str], env: &[(&str, &str)], code: i32) -> (String, String) {
    let o = cli(args, env).await;
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(code), "{out}\n{err}");
    (out, err)
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn header(kind: CloudKind, state: Option<&Path>) -> BuildHeader {
    BuildHeader {
        build_id: String::new(),
        template: "turbo-node.pkr.hcl".into(),
        cloud: CloudTarget {
            kind,
            region: "ru-moscow-1".into(),
            endpoints_file: None,
            local_state_dir: state.map(Path::to_path_buf),
        },
        pid: std::process::id(),
    }
}

/// A key pair made through `ledger`'s journal, named like the build's: its name.
async fn journaled_keypair(c: &Client, ledger: &Ledger) -> String {
    let name = ledger::resource_name(ledger.build_id(), &ResourceKind::Keypair);
    let i = ledger
        .intent(ResourceKind::Keypair, &name, Tags::new())
        .unwrap();
    Cloud::create_keypair(c, &name, None).await.unwrap();
    ledger.created(i, &name).unwrap();
    name
}

/// What a build made, by id.
struct Made {
    keypair: String,
    vpc: String,
    subnet: String,
    eip: String,
    server: String,
    image: String,
    /// A key pair with the build's prefix that never reached the journal.
    stray: String,
}

/// Plays a build that is killed after making one resource of each kind: intents first, ids
/// recorded for some and lost for others (subnet, EIP, image), and one key pair never journaled.
async fn crashed_build(cloud: &dyn Cloud, ledger: &Ledger) -> Made {
    let id = ledger.build_id().to_owned();
    let name = |k: ResourceKind| ledger::resource_name(&id, &k);
    let tags = ledger::build_tags(&id);
    let w = Waits::default();
    // Every resource's intent is journaled under the build's name for its kind.
    let intent =
        |kind: ResourceKind, tags: Tags| ledger.intent(kind.clone(), &name(kind), tags).unwrap();

    let kp = intent(ResourceKind::Keypair, Tags::new());
    cloud
        .create_keypair(&name(ResourceKind::Keypair), None)
        .await
        .unwrap();
    ledger.created(kp, &name(ResourceKind::Keypair)).unwrap();

    let i = intent(ResourceKind::Vpc, Tags::new());
    let vpc = VpcCreate {
        name: name(ResourceKind::Vpc),
        cidr: "10.20.0.0/16".into(),
        ..Default::default()
    };
    let vpc = cloud.create_vpc(&vpc, &w.network).await.unwrap().id;
    ledger.created(i, &vpc).unwrap();

    intent(ResourceKind::Subnet, Tags::new());
    let subnet = SubnetCreate {
        name: name(ResourceKind::Subnet),
        cidr: "10.20.1.0/24".into(),
        gateway_ip: "10.20.1.1".into(),
        vpc_id: vpc.clone(),
        ..Default::default()
    };
    let subnet = cloud.create_subnet(&subnet, &w.network).await.unwrap().id;

    intent(ResourceKind::Eip, Tags::new());
    let eip = cloud
        .create_eip(&EipCreate::new(&name(ResourceKind::Eip), 5), &w.eip)
        .await
        .unwrap()
        .id;

    let gold = ImageQuery {
        name: Some("Debian 12 (local sandbox rootfs)".into()),
        image_type: Some("gold".into()),
        ..Default::default()
    };
    let gold = cloud.list_images(&gold).await.unwrap()[0].id.clone();
    let i = intent(ResourceKind::Server, tags.clone());
    let body = ServerCreate {
        name: name(ResourceKind::Server),
        image_ref: gold,
        flavor_ref: "s7n.large.2".into(),
        vpcid: vpc.clone(),
        nics: vec![NicSpec {
            subnet_id: subnet.clone(),
            ip_address: None,
        }],
        availability_zone: Some("ru-moscow-1a".into()),
        root_volume: RootVolume {
            volumetype: "SSD".into(),
            size: Some(40),
        },
        key_name: Some(name(ResourceKind::Keypair)),
        ..Default::default()
    };
    let server = cloud.create_server(&body, &w.server).await.unwrap().id;
    ledger.created(i, &server).unwrap();
    cloud.stop_server(&server, &w.server).await.unwrap();

    intent(ResourceKind::Image, tags.clone());
    let req = ImageCreate {
        name: name(ResourceKind::Image),
        instance_id: server.clone(),
        image_tags: tags
            .iter()
            .map(|(k, v)| Tag {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        ..Default::default()
    };
    let image = cloud.create_image(&req, &w.image).await.unwrap();

    let stray = format!("{}-extra", name(ResourceKind::Keypair));
    cloud.create_keypair(&stray, None).await.unwrap();
    Made {
        keypair: name(ResourceKind::Keypair),
        vpc,
        subnet,
        eip,
        server,
        image,
        stray,
    }
}

/// Asserts by listing that none of `made` exists any more (the image too unless `image_kept`).
async fn assert_gone(c: &Client, made: &Made, image_kept: bool) {
    let cloud: &dyn Cloud = c;
    assert!(
        cloud.show_server(&made.server).await.unwrap().is_none(),
        "server left"
    );
    let keypairs: Vec<String> = c
        .list_keypairs()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert!(!keypairs.contains(&made.keypair), "key pair left");
    assert!(!keypairs.contains(&made.stray), "stray key pair left");
    let mut network: Vec<String> = c
        .list_eips()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    network.extend(
        c.list_subnets(None)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.id),
    );
    network.extend(c.list_vpcs().await.unwrap().into_iter().map(|v| v.id));
    for (what, id) in [
        ("eip", &made.eip),
        ("subnet", &made.subnet),
        ("vpc", &made.vpc),
    ] {
        assert!(!network.contains(id), "{what} left");
    }
    assert_eq!(
        cloud.show_image(&made.image).await.unwrap().is_some(),
        image_kept,
        "image"
    );
}

fn journal(state_home: &Path, id: &str) -> Journal {
    let root = state_home.join("cce-image-builder");
    Journal::read(&ledger::build_dir(&root, id).join(ledger::JOURNAL_FILE)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_restarts_the_local_cloud_from_its_state_and_removes_everything() {
    if !sandboxes_ok() {
        return;
    }
    let dir = searchable_dir("cce-cleanup-test-");
    let state = dir.path().join("localcloud");
    let home = dir.path().join("xdg");
    let root = home.join("cce-image-builder");
    let handle = LocalCloud::start(Config::new(&state)).await.unwrap();
    let c = local_client(&handle);
    let id = ledger::new_build_id();
    let ledger = Ledger::create(&root, &id, header(CloudKind::Local, Some(&state))).unwrap();
    let made = crashed_build(&c, &ledger).await;
    // The build dies: its lock goes with it, and the local cloud stops with the process.
    drop(ledger);
    handle.shutdown().await;

    let env = [("XDG_STATE_HOME", home.to_str().unwrap())];
    // A dry run names what would go and changes nothing.
    let before = journal(&home, &id);
    let (out, _) = cli_code(&["cleanup", &id, "--dry-run"], &env, 0).await;
    let server = ledger::resource_name(&id, &ResourceKind::Server);
    assert!(
        out.contains(&format!(
            "would delete server {server} (id {})",
            made.server
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("would delete keypair {} [sweep]", made.stray)),
        "{out}"
    );
    assert!(out.contains("dry run: 7 resource(s)"), "{out}");
    assert_eq!(journal(&home, &id), before, "a dry run writes nothing");

    let (out, _) = cli_code(&["cleanup", &id], &env, 0).await;
    for what in [
        format!(
            "deleted server {} (id {})",
            ledger::resource_name(&id, &ResourceKind::Server),
            made.server
        ),
        format!(
            "deleted subnet {} (id {})",
            ledger::resource_name(&id, &ResourceKind::Subnet),
            made.subnet
        ),
        format!(
            "deleted image {} (id {})",
            ledger::resource_name(&id, &ResourceKind::Image),
            made.image
        ),
        format!("deleted keypair {} [sweep]", made.stray),
        format!("{id}: clean"),
    ] {
        assert!(out.contains(&what), "missing {what:?} in\n{out}");
    }
    assert!(journal(&home, &id).outstanding().is_empty());

    // Checked against the cloud itself, started again from the same state.
    let handle = LocalCloud::start(Config::new(&state)).await.unwrap();
    assert_gone(&local_client(&handle), &made, false).await;
    handle.shutdown().await;

    // A second run finds nothing left.
    let (out, _) = cli_code(&["cleanup", &id, "--json"], &env, 0).await;
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, [serde_json::json!({"build": id, "action": "clean"})]);
}

/// A local cloud in this process posing as the real cloud, reached by the binary through
/// `CCE_ENDPOINTS_FILE`.
struct RealStandIn {
    _dir: tempfile::TempDir,
    home: PathBuf,
    root: PathBuf,
    endpoints: PathBuf,
    handle: LocalCloudHandle,
}

async fn real_stand_in() -> RealStandIn {
    let dir = tempfile::tempdir().unwrap();
    let handle = LocalCloud::start(Config::new(dir.path().join("cloud")))
        .await
        .unwrap();
    let endpoints = dir.path().join("endpoints.json");
    std::fs::write(&endpoints, format!("{}\n", handle.ready_line())).unwrap();
    let home = dir.path().join("xdg");
    RealStandIn {
        root: home.join("cce-image-builder"),
        home,
        endpoints,
        handle,
        _dir: dir,
    }
}

impl RealStandIn {
    /// A client of this cloud, and a build that made one resource of each kind and crashed:
    /// its journal (still open), id and what it made.
    async fn crashed_build(&self) -> (Client, Ledger, String, Made) {
        let c = local_client(&self.handle);
        let ledger = self.ledger();
        let id = ledger.build_id().to_owned();
        let made = crashed_build(&c, &ledger).await;
        (c, ledger, id, made)
    }

    /// The journal of a new build on this cloud.
    fn ledger(&self) -> Ledger {
        Ledger::create(
            &self.root,
            &ledger::new_build_id(),
            header(CloudKind::Real, None),
        )
        .unwrap()
    }

    fn env(&self) -> Vec<(&str, &str)> {
        vec![
            ("XDG_STATE_HOME", self.home.to_str().unwrap()),
            ("CCE_ENDPOINTS_FILE", self.endpoints.to_str().unwrap()),
        ]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_all_reaches_the_real_cloud_and_skips_running_and_finished_builds() {
    let s = real_stand_in().await;
    let c = local_client(&s.handle);
    let first = s.ledger();
    let first_id = first.build_id().to_owned();
    let made_first = crashed_build(&c, &first).await;
    drop(first);
    // A build that failed and was left with resources, and one that finished clean.
    let second_id = ledger::new_build_id();
    let second = Ledger::create(&s.root, &second_id, header(CloudKind::Real, None)).unwrap();
    let kp = journaled_keypair(&c, &second).await;
    second.finished(FinishStatus::Failed, vec![]).unwrap();
    drop(second);
    let done_id = ledger::new_build_id();
    let done = Ledger::create(&s.root, &done_id, header(CloudKind::Real, None)).unwrap();
    done.finished(FinishStatus::Succeeded, vec![]).unwrap();
    drop(done);
    // A running build: its ledger is held open by this process.
    let running_id = ledger::new_build_id();
    let running = Ledger::create(&s.root, &running_id, header(CloudKind::Real, None)).unwrap();
    let rkp = journaled_keypair(&c, &running).await;

    let (out, _) = cli_code(&["builds"], &s.env(), 0).await;
    let status_of = |id: &str| {
        out.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} not listed in\n{out}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        status_of(&first_id)[2..],
        ["crashed", "turbo-node.pkr.hcl", "6", "-"]
    );
    assert_eq!(
        status_of(&second_id)[2..],
        ["failed", "turbo-node.pkr.hcl", "1", "-"]
    );
    assert_eq!(
        status_of(&done_id)[2..],
        ["succeeded", "turbo-node.pkr.hcl", "0", "-"]
    );
    assert_eq!(
        status_of(&running_id)[2..],
        ["running", "turbo-node.pkr.hcl", "1", "-"]
    );
    assert!(out.starts_with("ID"), "{out}");
    assert!(
        out.contains("2 stopped build(s) left resources: run `cce-image-builder cleanup --all`"),
        "{out}"
    );

    let o = cli(&["builds", "--json"], &s.env()).await;
    let (out, _) = text(&o);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "newest last");
    assert_eq!(
        rows.iter()
            .find(|r| r["id"] == running_id.as_str())
            .unwrap()["status"],
        "running"
    );

    // The running build is refused by name.
    let (_, err) = cli_code(&["cleanup", &running_id], &s.env(), 1).await;
    assert!(
        err.contains(&format!(
            "build {running_id} is still running (pid {}); stop it first",
            std::process::id()
        )),
        "{err}"
    );

    let (out, _) = cli_code(&["cleanup", "--all"], &s.env(), 0).await;
    assert!(
        out.contains(&format!("{first_id}: clean")) && out.contains(&format!("{second_id}: clean")),
        "{out}"
    );
    assert!(
        !out.contains(&running_id) && !out.contains(&done_id),
        "{out}"
    );
    assert_gone(&c, &made_first, false).await;
    let keypairs: Vec<String> = c
        .list_keypairs()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert!(!keypairs.contains(&kp), "{keypairs:?}");
    assert!(
        keypairs.contains(&rkp),
        "the running build's key pair must stay: {keypairs:?}"
    );
    drop(running);

    // Nothing left to do now that the running build is the only one with resources... and it
    // stopped: --all takes it too.
    let (out, _) = cli_code(&["cleanup", "--all", "--json"], &s.env(), 0).await;
    assert!(out.contains(&format!(r#"{{"build":"{running_id}","action":"deleted","kind":"keypair","name":"{rkp}","id":"{rkp}","source":"journal"}}"#)), "{out}");
    s.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_images_keeps_the_unfinished_image_and_says_so() {
    let s = real_stand_in().await;
    let (c, ledger, id, made) = s.crashed_build().await;
    drop(ledger);
    let (out, _) = cli_code(&["cleanup", &id, "--keep-images"], &s.env(), 0).await;
    assert!(
        out.contains(&format!(
            "kept image {} (id {}): kept by --keep-images",
            ledger::resource_name(&id, &ResourceKind::Image),
            made.image
        )),
        "{out}"
    );
    assert_gone(&c, &made, true).await;
    // The kept image is the build's now: a later cleanup leaves it alone.
    let o = cli(&["cleanup", &id], &s.env()).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).0);
    assert!(Cloud::show_image(&c, &made.image).await.unwrap().is_some());
    s.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_succeeded_builds_image_stays_even_if_never_marked_kept() {
    let s = real_stand_in().await;
    let (c, ledger, id, made) = s.crashed_build().await;
    ledger
        .finished(FinishStatus::Succeeded, vec![made.image.clone()])
        .unwrap();
    drop(ledger);
    // `builds` names the image the build delivered, in text and JSON.
    let (out, _) = cli_code(&["builds"], &s.env(), 0).await;
    let row = out.lines().find(|l| l.starts_with(&id)).unwrap_or_default();
    assert!(row.contains("succeeded") && row.ends_with(&made.image), "{out}");
    let o = cli(&["builds", "--json"], &s.env()).await;
    let rows: Vec<serde_json::Value> = text(&o)
        .0
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let row = rows.iter().find(|r| r["id"] == id.as_str()).unwrap();
    assert_eq!(row["artifacts"], serde_json::json!([made.image]), "{rows:?}");
    let (out, _) = cli_code(&["cleanup", &id, "--dry-run"], &s.env(), 0).await;
    assert!(
        out.contains("would keep image")
            && out.contains("the build succeeded; the image is its result"),
        "{out}"
    );
    let (out, _) = cli_code(&["cleanup", &id], &s.env(), 0).await;
    assert!(
        out.contains(&format!(
            "kept image {}",
            ledger::resource_name(&id, &ResourceKind::Image)
        )),
        "{out}"
    );
    assert_gone(&c, &made, true).await;
    s.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_explains_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("xdg");
    let root = home.join("cce-image-builder");
    let env = [("XDG_STATE_HOME", home.to_str().unwrap())];

    let (_, err) = cli_code(&["cleanup", "20260101T000000Z-nosuch"], &env, 1).await;
    assert!(
        err.contains("no build 20260101T000000Z-nosuch under") && err.contains("builds` lists"),
        "{err}"
    );

    let o = cli(&["cleanup", "--all"], &env).await;
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o).0.contains("nothing to clean up"), "{:?}", text(&o));

    // Packer's single-dash form works too.
    let o = cli(&["cleanup", "-all", "-dry-run"], &env).await;
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(text(&o).0.contains("nothing to clean up"), "{:?}", text(&o));

    let o = cli(&["cleanup"], &env).await;
    assert_eq!(o.status.code(), Some(2), "BUILD_ID or --all is required");

    // A real-cloud build without credentials in the environment.
    let id = ledger::new_build_id();
    let l = Ledger::create(&root, &id, header(CloudKind::Real, None)).unwrap();
    l.intent(
        ResourceKind::Keypair,
        &ledger::resource_name(&id, &ResourceKind::Keypair),
        Tags::new(),
    )
    .unwrap();
    drop(l);
    let (_, err) = cli_code(&["cleanup", &id], &env, 1).await;
    assert!(err.contains("set HW_ACCESS_KEY and HW_SECRET_KEY"), "{err}");

    // A local-cloud build whose state is gone.
    let id = ledger::new_build_id();
    let gone = dir.path().join("no-such-state");
    let l = Ledger::create(&root, &id, header(CloudKind::Local, Some(&gone))).unwrap();
    drop(l);
    let (_, err) = cli_code(&["cleanup", &id], &env, 1).await;
    assert!(
        err.contains("is gone, and with it the build's resources"),
        "{err}"
    );

    // A crashed build on a local cloud that a running build still serves: starting that cloud a
    // second time would overwrite the running build's records.
    let state = dir.path().join("shared-localcloud");
    LocalCloud::start(Config::new(&state))
        .await
        .unwrap()
        .shutdown()
        .await;
    let crashed = ledger::new_build_id();
    drop(Ledger::create(&root, &crashed, header(CloudKind::Local, Some(&state))).unwrap());
    let busy = ledger::new_build_id();
    let live = Ledger::create(&root, &busy, header(CloudKind::Local, Some(&state))).unwrap();
    let (_, err) = cli_code(&["cleanup", &crashed], &env, 1).await;
    assert!(
        err.contains(&format!("build {busy} is running on the same local cloud")),
        "{err}"
    );
    drop(live);

    // A journal held open while the build that wrote it is dead: another cleanup has it.
    let id = ledger::new_build_id();
    let dead_pid = 0x7fff_fff0; // above Linux's pid limit: no process has it
    let held = Ledger::create(
        &root,
        &id,
        BuildHeader {
            pid: dead_pid,
            ..header(CloudKind::Real, None)
        },
    )
    .unwrap();
    let (_, err) = cli_code(&["cleanup", &id], &env, 1).await;
    assert!(
        err.contains(&format!(
            "build {id} is being cleaned up by another process (its build, pid {dead_pid}, is gone)"
        )),
        "{err}"
    );
    drop(held);

    let o = cli(
        &["builds"],
        &[("XDG_STATE_HOME", dir.path().join("empty").to_str().unwrap())],
    )
    .await;
    assert!(text(&o).0.starts_with("no builds under"), "{:?}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_that_cannot_be_removed_fails_the_run_with_what_to_do() {
    let s = real_stand_in().await;
    let ledger = s.ledger();
    let id = ledger.build_id().to_owned();
    let i = ledger
        .intent(ResourceKind::Volume, "cce-ib-x-vol", Tags::new())
        .unwrap();
    ledger.created(i, "vol-1").unwrap();
    drop(ledger);
    let (out, _) = cli_code(&["cleanup", &id], &s.env(), 1).await;
    assert!(
        out.contains("failed volume cce-ib-x-vol (id vol-1)") && out.contains("remove it by hand"),
        "{out}"
    );
    assert!(out.contains(&format!("{id}: incomplete")), "{out}");
    assert_eq!(journal(&s.home, &id).outstanding().len(), 1, "still owed");
    s.handle.shutdown().await;
}

const CHILD_ENV: &str = "CCE_CLEANUP_TEST_CHILD";

/// Runs inside a child process started by `a_build_killed_with_sigkill_is_cleaned_up`: plays a
/// build against the cloud named by `CCE_ENDPOINTS_FILE` under `XDG_STATE_HOME`, prints its id,
/// then waits to be killed. Ignored in normal runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs only as the child of a_build_killed_with_sigkill_is_cleaned_up"]
async fn child_build_that_gets_killed() {
    let (Ok(endpoints), Ok(home)) = (std::env::var(CHILD_ENV), std::env::var("XDG_STATE_HOME"))
    else {
        eprintln!("nothing to do: only the parent test starts this with {CHILD_ENV} set");
        return;
    };
    let file = EndpointsFile::load(Path::new(&endpoints)).expect("endpoints file");
    let c =
        Client::new(ClientConfig::from_endpoints_file(&file, &HashMap::new()).unwrap()).unwrap();
    let root = Path::new(&home).join("cce-image-builder");
    let ledger = Ledger::create(
        &root,
        &ledger::new_build_id(),
        header(CloudKind::Real, None),
    )
    .expect("ledger");
    let made = crashed_build(&c, &ledger).await;
    println!(
        "READY {} {} {} {} {} {} {} {}",
        ledger.build_id(),
        made.keypair,
        made.vpc,
        made.subnet,
        made.eip,
        made.server,
        made.image,
        made.stray
    );
    use std::io::Write as _;
    std::io::stdout().flush().expect("flush stdout");
    tokio::time::sleep(std::time::Duration::from_secs(120)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_killed_with_sigkill_is_cleaned_up() {
    use tokio::io::AsyncBufReadExt;
    let s = real_stand_in().await;
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "--ignored",
            "child_build_that_gets_killed",
            "--nocapture",
        ])
        .env(CHILD_ENV, &s.endpoints)
        .env("XDG_STATE_HOME", &s.home)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn child");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let ready = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("read child") {
            if let Some(rest) = line.strip_prefix("READY ") {
                return rest.split(' ').map(str::to_owned).collect::<Vec<_>>();
            }
        }
        panic!("the child ended before it was ready");
    })
    .await
    .expect("the child gets ready within 60 s");
    let [id, keypair, vpc, subnet, eip, server, image, stray] =
        <[String; 8]>::try_from(ready).unwrap();
    let made = Made {
        keypair,
        vpc,
        subnet,
        eip,
        server,
        image,
        stray,
    };
    let pid = child.id().expect("child pid");

    // While the build lives, it is running and cleanup keeps its hands off.
    let o = cli(&["builds"], &s.env()).await;
    assert!(
        text(&o)
            .0
            .lines()
            .any(|l| l.starts_with(&id) && l.contains(" running ")),
        "{:?}",
        text(&o)
    );
    let o = cli(&["cleanup", &id], &s.env()).await;
    assert_eq!(o.status.code(), Some(1));
    // The journal names the pid of the process that wrote it: the child.
    assert!(
        text(&o).1.contains(&format!(
            "build {id} is still running (pid {pid}); stop it first"
        )),
        "{:?}",
        text(&o)
    );
    assert!(
        Cloud::show_server(&local_client(&s.handle), &made.server)
            .await
            .unwrap()
            .is_some()
    );

    // kill -9: no handler runs, the kernel drops the journal's lock.
    // (tokio's `kill` sends SIGKILL on Unix, then reaps.)
    child.kill().await.expect("SIGKILL the child");
    let o = cli(&["builds", "--json"], &s.env()).await;
    let row: serde_json::Value = serde_json::from_str(text(&o).0.lines().next().unwrap()).unwrap();
    assert_eq!(
        (row["status"].as_str(), row["outstanding"].as_u64()),
        (Some("crashed"), Some(6))
    );

    let (out, _) = cli_code(&["cleanup", "--all"], &s.env(), 0).await;
    assert!(out.contains(&format!("{id}: clean")), "{out}");
    assert_gone(&local_client(&s.handle), &made, false).await;
    s.handle.shutdown().await;
}
