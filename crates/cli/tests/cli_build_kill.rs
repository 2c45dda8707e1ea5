//! Nothing is leaked when a build is stopped at any step: the real binary builds on the embedded
//! local cloud with `--json`; at each step (read from its events, outside the build) it gets
//! SIGINT — and must clean up itself and exit 130 — or SIGKILL — after which `cleanup <id>`
//! must remove what it left. Afterwards the local cloud's inventory holds no server, keypair,
//! EIP, VPC, subnet or image that was not there before. Needs root (sandbox servers); under
//! `CI=true` a missing prerequisite fails the test.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{LocalWorld, sandboxes_ok};
use serde_json::Value;

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

/// The build under test, started with `--json` in a fresh world.
fn start_build(world: &LocalWorld) -> Child {
    world
        .command(&["build", "--json", "t.pkr.hcl"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn new_world() -> LocalWorld {
    LocalWorld::new("cce-kill-", TEMPLATE)
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
fn read_events(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    seen: &mut Seen,
    mut stop: impl FnMut(&Value) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(600);
    for line in lines {
        let line = line.unwrap();
        assert!(
            Instant::now() < deadline,
            "the build ran for more than 10 minutes"
        );
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
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
fn cleanup(world: &LocalWorld, what: &str) {
    let out = world.command(&["cleanup", what]).output().unwrap();
    assert!(
        out.status.success(),
        "cleanup {what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The steps of a whole build, from a run that is left to finish.
fn steps_of_a_build(world: &LocalWorld) -> Vec<String> {
    let mut child = start_build(world);
    let mut seen = Seen::default();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    read_events(&mut lines, &mut seen, |_| false);
    let code = wait_exit(&mut child);
    assert_eq!(
        code,
        Some(0),
        "the reference build failed: {:?}\n{}",
        seen.errors,
        stderr_of(&mut child)
    );
    // The build's steps in order; messages said inside a step (the zone it picked, the build
    // id) are reported as starts without an end and differ between builds.
    let mut steps: Vec<String> = seen
        .steps
        .iter()
        .filter(|s| seen.finished_steps.contains(s))
        .cloned()
        .collect();
    steps.dedup();
    assert!(steps.len() >= 5, "too few steps: {:?}", seen.steps);
    eprintln!(
        "stopping a build at each of {} steps: {steps:?}",
        steps.len()
    );
    steps
}

/// One build at a time: the machine has two cores, and each build boots a sandbox.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn interrupt_at_every_step(sig: nix::sys::signal::Signal) {
    if !sandboxes_ok() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let reference = new_world();
    let steps = steps_of_a_build(&reference);
    for step in &steps {
        let world = new_world();
        let fresh = world.inventory();
        let mut child = start_build(&world);
        let mut seen = Seen::default();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut reached = false;
        read_events(&mut lines, &mut seen, |e| {
            reached = e["type"] == "step_started" && e["step"] == step.as_str();
            reached
        });
        assert!(
            !seen.build_id.is_empty(),
            "no build_started event before step {step}"
        );
        assert!(
            reached,
            "the build never reached step {step:?}: {:?}",
            seen.errors
        );
        signal(&child, sig);
        // What the build says after the signal (nothing after SIGKILL).
        read_events(&mut lines, &mut seen, |_| false);
        let code = wait_exit(&mut child);
        let stderr = stderr_of(&mut child);
        match sig {
            nix::sys::signal::Signal::SIGINT => {
                assert!(
                    code == Some(130) || code == Some(0),
                    "SIGINT at {step}: exit {code:?}\n{:?}\n{stderr}",
                    seen.errors
                );
            }
            _ => assert_eq!(
                code, None,
                "SIGKILL at {step}: the build still exited by itself"
            ),
        }
        let what = if sig == nix::sys::signal::Signal::SIGKILL {
            "--all"
        } else {
            seen.build_id.as_str()
        };
        cleanup(&world, what);
        let after = world.inventory();
        let left: Vec<&String> = after
            .iter()
            .filter(|r| !fresh.contains(r))
            // An image the build delivered (it finished before the signal) is its result.
            .filter(|r| {
                !seen
                    .artifacts
                    .iter()
                    .any(|id| r.starts_with(&format!("image {id} ")))
            })
            .collect();
        assert!(
            left.is_empty(),
            "{sig:?} at step {step:?} left: {left:?}\n{:?}\n{stderr}",
            seen.errors
        );
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
