//! Progress of an ECS build on a local cloud with sandbox servers: the file provisioner's
//! upload reports bytes sent up to the file's size, the image job reports a percent rising to
//! 100 over a job of seconds (the realistic profile, scaled), and a terminal view fed those
//! events draws their bars. Needs root (under `CI=true` a missing prerequisite fails the test).

mod common;

use std::sync::Arc;
use std::time::Duration;

use cce_cloud::{Cloud, Waits};
use cce_engine::ecs_build::{EcsBuild, EcsOptions, OnFailure};
use cce_engine::events::{Clock, Event, RecordingReporter, Reporter};
use cce_engine::interrupt;
use cce_engine::ledger::{BuildHeader, CloudKind, CloudTarget, Ledger, new_build_id};
use cce_engine::redact::Redactor;
use cce_engine::tty::TtyReporter;
use cce_localcloud::{Config, LocalCloud, Profile, SandboxBackend, SandboxConfig};

/// The realistic profile at 1/50: server build 1.2-1.8 s, image job 2.4-3.6 s, so the image
/// wait (polling at most every half second) sees the job several times.
const SCALE: f64 = 0.02;
/// The file the provisioner uploads: a few MiB of varied bytes.
const PAYLOAD_BYTES: usize = 6 * 1024 * 1024 + 123;

fn template(image_name: &str) -> String {
    format!(
        r##"
source "huaweicloud-ecs" "node" {{
  image_name         = "{image_name}"
  eip_bandwidth_size = 5
  ssh_username       = "root"
  ssh_timeout        = "2m"
}}

build {{
  sources = ["source.huaweicloud-ecs.node"]
  provisioner "file" {{
    source      = "payload.bin"
    destination = "/root/payload.bin"
  }}
  provisioner "shell" {{
    inline = ["stat -c 'size %s' /root/payload.bin"]
  }}
}}
"##
    )
}

/// The `Progress` events of `what`, as (done, total).
fn progress_of(events: &[Event], what: &str) -> Vec<(u64, Option<u64>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Progress {
                what: w,
                done,
                total,
                ..
            } if w == what => Some((*done, *total)),
            _ => None,
        })
        .collect()
}

/// Removes ANSI escape sequences, keeping the text a terminal would show.
fn plain(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_reports_upload_and_image_progress() {
    if !common::sandbox_prerequisites() {
        return;
    }
    // State under /var/tmp, which sandboxes (other users) can search.
    let dir = tempfile::Builder::new()
        .prefix("cce-progress-")
        .tempdir_in("/var/tmp")
        .expect("temp dir");
    let state = dir.path().join("cloud");
    let mut config = Config::new(&state);
    config.profile = Profile::Realistic;
    config.scale = SCALE;
    // Tests run side by side, each with its own cloud: EIP addresses must not collide.
    let octets = uuid::Uuid::new_v4().as_bytes()[..2].to_vec();
    config.eip_pool = (
        std::net::Ipv4Addr::new(127, 101 + octets[0] % 100, octets[1], 10),
        64,
    );
    let backend = SandboxBackend::new(
        SandboxConfig::new(&state, |k| std::env::var(k).ok()),
        tokio::runtime::Handle::current(),
    );
    let handle = LocalCloud::start_with_backend(config, Arc::new(backend))
        .await
        .expect("local cloud starts");
    let client = common::client(&handle);

    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).expect("work dir");
    let payload: Vec<u8> = (0..PAYLOAD_BYTES)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(work.join("payload.bin"), &payload).expect("payload written");
    let image_name = format!(
        "cce-progress-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let plan = common::plan(&work, &template(&image_name));
    let build = &plan.builds[0];
    let build_id = new_build_id();
    let header = BuildHeader {
        build_id: build_id.clone(),
        template: work.join("build.pkr.hcl").display().to_string(),
        cloud: CloudTarget {
            kind: CloudKind::Local,
            region: handle.region.clone(),
            endpoints_file: None,
            local_state_dir: None,
        },
        pid: std::process::id(),
    };
    let ledger = Arc::new(Ledger::create(&work.join("state"), &build_id, header).expect("ledger"));
    let redactor = Redactor::new();
    let recorder = Arc::new(RecordingReporter::new(redactor.clone()));
    let (interrupter, interrupt) = interrupt::channel();
    let cloud: Arc<dyn Cloud> = Arc::new(client.clone());
    let job = EcsBuild {
        build,
        source: &build.sources[0],
        cloud,
        ledger,
        reporter: recorder.clone(),
        redactor: redactor.clone(),
        run_uuid: "run-uuid".into(),
        cwd: work.clone(),
        on_error: OnFailure::Cleanup,
        interrupt,
        waits: Waits::default(),
        log_file: None,
        local_cloud: true,
        options: EcsOptions::default(),
    };
    let outcome = tokio::time::timeout(Duration::from_secs(300), job.run())
        .await
        .expect("the build ends within 5 minutes");
    drop(interrupter);
    let events = recorder.events();
    assert_eq!(outcome.error, None, "events: {events:#?}");
    let image_id = outcome.artifact_id.clone().expect("an image id");

    // The upload: the total known from the first event, never going back, ending at the size
    // of the file on disk; and the file in the image is that file.
    let size = payload.len() as u64;
    let upload = progress_of(&events, "upload payload.bin");
    assert!(upload.len() >= 2, "{upload:?}");
    assert!(upload.iter().all(|&(_, t)| t == Some(size)), "{upload:?}");
    assert!(upload.windows(2).all(|w| w[0].0 <= w[1].0), "{upload:?}");
    assert_eq!(upload.last(), Some(&(size, Some(size))));
    let in_image = dir
        .path()
        .join("cloud/layers")
        .join(&image_id)
        .join("root/payload.bin");
    assert_eq!(
        std::fs::read(&in_image).expect("payload in the image"),
        payload
    );

    // The image job: a percent out of 100, rising, seen below 100 at least once, ending at 100.
    let what = format!("image {image_name}");
    let image = progress_of(&events, &what);
    assert!(image.len() >= 3, "{image:?}");
    assert!(image.iter().all(|&(_, t)| t == Some(100)), "{image:?}");
    assert!(image.windows(2).all(|w| w[0].0 <= w[1].0), "{image:?}");
    assert!(image.iter().any(|&(d, _)| d > 0 && d < 100), "{image:?}");
    assert_eq!(image.last(), Some(&(100, Some(100))));
    // Progress comes while its step runs: between the image step's start and the artifact.
    let pos = |f: &dyn Fn(&Event) -> bool| events.iter().position(f).expect("event present");
    let step =
        pos(&|e| matches!(e, Event::StepStarted { step, .. } if step == "Creating the image..."));
    let artifact = pos(&|e| matches!(e, Event::Artifact { .. }));
    let first = pos(&|e| matches!(e, Event::Progress { what: w, .. } if *w == what));
    assert!(
        step < first && first < artifact,
        "{step} {first} {artifact}"
    );

    eprintln!("upload progress: {upload:?}\nimage progress: {image:?}");

    // A terminal view fed the same events draws both bars.
    let now = Arc::new(std::sync::Mutex::new(time::OffsetDateTime::now_utc()));
    let read = now.clone();
    let clock: Clock = Arc::new(move || *read.lock().expect("clock"));
    let tty = TtyReporter::new(Vec::new(), redactor)
        .with_clock(clock)
        .with_width(120)
        .with_color(false);
    let mut upload_bar = false;
    let mut image_bar = false;
    for e in &events {
        tty.report(e).expect("tty report");
        *now.lock().expect("clock") += Duration::from_millis(200);
        tty.tick().expect("tick");
        if let Event::Progress { what: w, .. } = e {
            let screen = plain(&tty.written());
            let last = screen
                .lines()
                .rev()
                .find(|l| l.trim_start().starts_with(w.as_str()));
            if w == "upload payload.bin" {
                upload_bar |= last.is_some_and(|l| l.contains(" 100%  6.0 MiB / 6.0 MiB"));
            } else if *w == what {
                image_bar |= last.is_some_and(|l| l.contains("█") && l.contains("] 100%"));
            }
        }
    }
    assert!(
        upload_bar,
        "no full upload bar in:\n{}",
        plain(&tty.written())
    );
    assert!(
        image_bar,
        "no full image bar in:\n{}",
        plain(&tty.written())
    );
    handle.shutdown().await;
}
