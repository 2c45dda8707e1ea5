//! Nothing is leaked when a build is stopped at any step: the real binary builds on the embedded
//! local cloud with `--json`; at each step (read from its events, outside the build) it gets
//! SIGINT — and must clean up itself and exit 130 — or SIGKILL — after which `cleanup <id>`
//! must remove what it left. Afterwards the local cloud's inventory holds no server, keypair,
//! EIP, VPC, subnet or image that was not there before. Needs root (sandbox servers); under
//! `CI=true` a missing prerequisite fails the test.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cce_cloud::Client;
use cce_cloud::models::{ImageQuery, ServerQuery};
use cce_localcloud::{Config, LocalCloud};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_cce-image-builder");

const TEMPLATE: &str = r#"
source "huaweicloud-ecs" "kill" {
  eip_type           = "5_bgp"
  eip_bandwidth_size = 5
  ssh_username       = "root"
  image_name         = "cce-ib-kill-test"
}

build {
  sources = ["source.huaweicloud-ecs.kill"]

  provisioner "shell" {
    inline = ["echo provisioned > /root/kill.txt", "sleep 1"]
  }
}
"#;

fn prerequisites() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    match cce_sandbox::host_supports_sandboxes() {
        Ok(()) => true,
        Err(e) if ci => panic!("CI=true and local-cloud sandboxes cannot run: {e}"),
        Err(e) => {
            eprintln!("skipping: {e}");
            false
        }
    }
}

/// A fresh world: a local cloud state (searchable by the sandboxes' users) and a journal root.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let dir = tempfile::Builder::new()
            .prefix("cce-kill-")
            .tempdir_in("/var/tmp")
            .unwrap();
        std::fs::write(dir.path().join("kill.pkr.hcl"), TEMPLATE).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        World { dir }
    }

    fn state(&self) -> std::path::PathBuf {
        self.dir.path().join("localcloud")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .current_dir(self.dir.path())
            .env("CCE_LOCALCLOUD_STATE", self.state())
            .env("XDG_STATE_HOME", self.dir.path().join("xdg"))
            .env_remove("HW_ACCESS_KEY")
            .env_remove("HW_SECRET_KEY")
            .env_remove("PACKER_LOG")
            .env_remove("CCE_ENDPOINTS_FILE");
        c
    }

    fn build(&self) -> Child {
        self.command(&["build", "--json", "kill.pkr.hcl"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Everything the local cloud holds that a build could have made, as sorted names.
    fn inventory(&self) -> Vec<String> {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let handle = LocalCloud::start(Config::new(self.state())).await.unwrap();
            let mut config = cce_cloud::ClientConfig::new(
                {
                    let mut e = cce_cloud::Endpoints::cloud_ru(&handle.region);
                    for (svc, lsvc) in [
                        (cce_cloud::Service::Iam, cce_localcloud::Service::Iam),
                        (cce_cloud::Service::Ecs, cce_localcloud::Service::Ecs),
                        (cce_cloud::Service::Ims, cce_localcloud::Service::Ims),
                        (cce_cloud::Service::Vpc, cce_localcloud::Service::Vpc),
                    ] {
                        e = e.with_url(svc, handle.endpoint(lsvc)).unwrap();
                    }
                    e
                },
                cce_cloud::signer::Credentials {
                    access_key: handle.access_key.clone(),
                    secret_key: handle.secret_key.clone(),
                    security_token: None,
                },
            );
            config.project_id = Some(handle.project_id.clone());
            let client = Client::new(config).unwrap();
            let mut out = Vec::new();
            for s in client
                .list_servers(&ServerQuery::default())
                .await
                .unwrap()
                .servers
            {
                out.push(format!("server {} {}", s.name, s.status));
            }
            for k in client.list_keypairs().await.unwrap() {
                out.push(format!("keypair {}", k.name));
            }
            for e in client.list_eips().await.unwrap() {
                out.push(format!("eip {}", e.id));
            }
            for v in client.list_vpcs().await.unwrap() {
                out.push(format!("vpc {}", v.id));
            }
            for s in client.list_subnets(None).await.unwrap() {
                out.push(format!("subnet {}", s.id));
            }
            let q = ImageQuery {
                image_type: Some("private".into()),
                ..Default::default()
            };
            for i in client.list_images(&q).await.unwrap() {
                out.push(format!("image {} {}", i.id, i.status));
            }
            handle.shutdown().await;
            out.sort();
            out
        })
    }
}

/// What a build said on stdout: its id, the steps it started, the images it delivered and
/// its errors.
#[derive(Default)]
struct Seen {
    build_id: String,
    steps: Vec<String>,
    /// Steps that also ended (a message said inside a step starts no step of its own).
    finished_steps: Vec<String>,
    artifacts: Vec<String>,
    errors: Vec<String>,
}

impl Seen {
    fn take(&mut self, event: &Value) {
        let s = |k: &str| event[k].as_str().unwrap_or_default().to_string();
        match event["type"].as_str() {
            Some("build_started") => self.build_id = s("build_id"),
            Some("step_started") => self.steps.push(s("step")),
            Some("step_finished") => self.finished_steps.push(s("step")),
            Some("artifact") => self.artifacts.push(s("id")),
            Some("error") => self.errors.push(s("message")),
            Some("build_finished") if !event["error"].is_null() => self.errors.push(s("error")),
            _ => {}
        }
    }
}

/// Reads events until `stop` says so.
fn read_events(lines: &mut impl Iterator<Item = std::io::Result<String>>, seen: &mut Seen, mut stop: impl FnMut(&Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(600);
    for line in lines {
        let line = line.unwrap();
        assert!(Instant::now() < deadline, "the build ran for more than 10 minutes");
        let Ok(event) = serde_json::from_str::<Value>(&line) else { continue };
        seen.take(&event);
        if stop(&event) {
            break;
        }
    }
}

fn wait_exit(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(
            Instant::now() < deadline,
            "the build did not exit within 5 minutes"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read as _;
        let _ = e.read_to_string(&mut s);
    }
    s
}

fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}

/// `cleanup <id>`, or `cleanup --all` as a user would after a SIGKILL (the id scrolled away).
fn cleanup(world: &World, what: &str) {
    let out = world.command(&["cleanup", what]).output().unwrap();
    assert!(
        out.status.success(),
        "cleanup {what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The steps of a whole build, from a run that is left to finish.
fn steps_of_a_build(world: &World) -> Vec<String> {
    let mut child = world.build();
    let mut seen = Seen::default();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    read_events(&mut lines, &mut seen, |_| false);
    let code = wait_exit(&mut child);
    assert_eq!(code, Some(0), "the reference build failed: {:?}\n{}", seen.errors, stderr_of(&mut child));
    // The build's steps in order; messages said inside a step (the zone it picked, the build
    // id) are reported as starts without an end and differ between builds.
    let mut steps: Vec<String> = seen.steps.iter().filter(|s| seen.finished_steps.contains(s)).cloned().collect();
    steps.dedup();
    assert!(steps.len() >= 5, "too few steps: {:?}", seen.steps);
    eprintln!("stopping a build at each of {} steps: {steps:?}", steps.len());
    steps
}

/// One build at a time: the machine has two cores, and each build boots a sandbox.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn interrupt_at_every_step(sig: nix::sys::signal::Signal) {
    if !prerequisites() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let reference = World::new();
    let steps = steps_of_a_build(&reference);
    for step in &steps {
        let world = World::new();
        let fresh = world.inventory();
        let mut child = world.build();
        let mut seen = Seen::default();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut reached = false;
        read_events(&mut lines, &mut seen, |e| {
            reached = e["type"] == "step_started" && e["step"] == step.as_str();
            reached
        });
        assert!(!seen.build_id.is_empty(), "no build_started event before step {step}");
        assert!(reached, "the build never reached step {step:?}: {:?}", seen.errors);
        signal(&child, sig);
        // What the build says after the signal (nothing after SIGKILL).
        read_events(&mut lines, &mut seen, |_| false);
        let code = wait_exit(&mut child);
        let stderr = stderr_of(&mut child);
        match sig {
            nix::sys::signal::Signal::SIGINT => {
                assert!(code == Some(130) || code == Some(0), "SIGINT at {step}: exit {code:?}\n{:?}\n{stderr}", seen.errors);
            }
            _ => assert_eq!(code, None, "SIGKILL at {step}: the build still exited by itself"),
        }
        let what = if sig == nix::sys::signal::Signal::SIGKILL { "--all" } else { seen.build_id.as_str() };
        cleanup(&world, what);
        let after = world.inventory();
        let left: Vec<&String> = after
            .iter()
            .filter(|r| !fresh.contains(r))
            // An image the build delivered (it finished before the signal) is its result.
            .filter(|r| !seen.artifacts.iter().any(|id| r.starts_with(&format!("image {id} "))))
            .collect();
        assert!(left.is_empty(), "{sig:?} at step {step:?} left: {left:?}\n{:?}\n{stderr}", seen.errors);
    }
}

#[test]
fn sigint_at_every_step_leaves_nothing() {
    interrupt_at_every_step(nix::sys::signal::Signal::SIGINT);
}

#[test]
fn sigkill_at_every_step_then_cleanup_leaves_nothing() {
    interrupt_at_every_step(nix::sys::signal::Signal::SIGKILL);
}
