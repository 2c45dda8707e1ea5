//! Event sinks: exact output of each format for a fixed sequence, redaction in every sink, and
//! the machine-readable and plain formats compared with what the installed packer prints.

use std::sync::Arc;

use cce_engine::events::{
    BuildStatus, Clock, Event, FanoutReporter, JsonLinesReporter, MachineReadableReporter,
    PlainReporter, RecordingReporter, Reporter, StepStatus, StepTiming, Stream, human_duration,
};
use cce_engine::ledger::ResourceKind;
use cce_engine::redact::Redactor;

const B: &str = "turbo-node.huaweicloud-ecs.builder";
const SECRET: &str = "Adm1n,P@ss\"word";

fn fixed_clock() -> Clock {
    Arc::new(|| time::macros::datetime!(2026-11-25 16:55:00.123 UTC))
}

fn redactor() -> Redactor {
    let r = Redactor::new();
    r.add(SECRET).expect("long enough");
    r
}

fn success_sequence() -> Vec<Event> {
    let b = || B.to_string();
    vec![
        Event::BuildStarted {
            build: b(),
            build_id: "20261125T165500Z-abc123".into(),
        },
        Event::StepStarted {
            build: b(),
            step: "Creating temporary keypair: cce-ib-abc123-kp".into(),
        },
        Event::ResourceCreated {
            build: b(),
            kind: ResourceKind::Keypair,
            id: "cce-ib-abc123-kp".into(),
            name: "cce-ib-abc123-kp".into(),
        },
        Event::StepFinished {
            build: b(),
            step: "Creating temporary keypair: cce-ib-abc123-kp".into(),
            elapsed_ms: 420,
            status: StepStatus::Succeeded,
        },
        Event::Output {
            build: b(),
            provisioner: "shell".into(),
            stream: Stream::Stdout,
            line: "hello, world".into(),
        },
        Event::Output {
            build: b(),
            provisioner: "shell".into(),
            stream: Stream::Stdout,
            line: format!("password is {SECRET}"),
        },
        Event::Output {
            build: b(),
            provisioner: "shell".into(),
            stream: Stream::Stderr,
            line: "warning: apt is slow".into(),
        },
        Event::Progress {
            build: b(),
            what: "upload".into(),
            done: 5,
            total: Some(10),
        },
        Event::Warning {
            build: Some(b()),
            message: "ssh_timeout is short".into(),
        },
        Event::Artifact {
            build: b(),
            builder_id: "huawei.huaweicloud".into(),
            id: "img-1".into(),
            description: "An image was created: img-1".into(),
        },
        Event::BuildFinished {
            build: b(),
            status: BuildStatus::Succeeded,
            artifacts: vec!["img-1".into()],
            elapsed_ms: 61_004,
            steps: vec![StepTiming {
                step: "keypair".into(),
                ms: 420,
            }],
            error: None,
        },
    ]
}

fn failure_sequence() -> Vec<Event> {
    vec![
        Event::StepStarted {
            build: B.into(),
            step: "Creating server".into(),
        },
        Event::StepFinished {
            build: B.into(),
            step: "Creating server".into(),
            elapsed_ms: 1500,
            status: StepStatus::Failed,
        },
        Event::Error {
            build: Some(B.into()),
            message: format!("quota exceeded, key {SECRET}"),
        },
        Event::BuildFinished {
            build: B.into(),
            status: BuildStatus::Failed,
            artifacts: vec![],
            elapsed_ms: 2000,
            steps: vec![],
            error: Some("quota exceeded, try another flavor".into()),
        },
    ]
}

/// Reports the events, then ends the command as `build` does (the summary comes at the end).
fn feed(r: &dyn Reporter, events: &[Event]) {
    for e in events {
        r.report(e).expect("in-memory write");
    }
    r.finish().expect("in-memory write");
}

#[test]
fn durations_read_like_packer() {
    assert_eq!(human_duration(0), "0 milliseconds");
    assert_eq!(human_duration(7), "7 milliseconds");
    assert_eq!(human_duration(61_004), "1 minute 1 second 4 milliseconds");
    assert_eq!(human_duration(2 * 3_600_000 + 120_000), "2 hours 2 minutes");
}

#[test]
fn json_lines_exact_output() {
    let r = JsonLinesReporter::new(Vec::new(), redactor()).with_clock(fixed_clock());
    feed(&r, &success_sequence()[..2]);
    feed(&r, &success_sequence()[5..8]);
    feed(&r, &success_sequence()[10..]);
    let out = String::from_utf8(r.into_inner()).expect("utf8");
    let t = "\"time\":\"2026-11-25T16:55:00Z\"";
    let expected = [
        format!(
            r#"{{{t},"type":"build_started","build":"{B}","build_id":"20261125T165500Z-abc123"}}"#
        ),
        format!(
            r#"{{{t},"type":"step_started","build":"{B}","step":"Creating temporary keypair: cce-ib-abc123-kp"}}"#
        ),
        format!(
            r#"{{{t},"type":"output","build":"{B}","provisioner":"shell","stream":"stdout","line":"password is <sensitive>"}}"#
        ),
        format!(
            r#"{{{t},"type":"output","build":"{B}","provisioner":"shell","stream":"stderr","line":"warning: apt is slow"}}"#
        ),
        format!(r#"{{{t},"type":"progress","build":"{B}","what":"upload","done":5,"total":10}}"#),
        format!(
            r#"{{{t},"type":"build_finished","build":"{B}","status":"succeeded","artifacts":["img-1"],"elapsed_ms":61004,"steps":[{{"step":"keypair","ms":420}}]}}"#
        ),
    ];
    assert_eq!(out, expected.join("\n") + "\n");
    // Each line reads back as the event it came from.
    let back: serde_json::Value =
        serde_json::from_str(out.lines().next().expect("a line")).expect("json");
    assert_eq!(back["type"], "build_started");
}

#[test]
fn events_round_trip_through_json() {
    for e in success_sequence().into_iter().chain(failure_sequence()) {
        let text = serde_json::to_string(&e).expect("serialize");
        let back: Event = serde_json::from_str(&text).expect("deserialize");
        assert_eq!(back, e);
    }
}

#[test]
fn machine_readable_exact_output() {
    let r = MachineReadableReporter::new(Vec::new(), redactor()).with_clock(fixed_clock());
    feed(&r, &success_sequence());
    let out = String::from_utf8(r.into_inner()).expect("utf8");
    let expected = format!(
        "1795625700,,ui,say,==> {B}: Creating temporary keypair: cce-ib-abc123-kp
1795625700,,ui,message,    {B}: Created keypair cce-ib-abc123-kp: cce-ib-abc123-kp
1795625700,,ui,message,    {B}: hello%!(PACKER_COMMA) world
1795625700,,ui,message,    {B}: password is <sensitive>
1795625700,,ui,error,==> {B}: warning: apt is slow
1795625700,,ui,say,==> {B}: Warning: ssh_timeout is short
1795625700,,ui,say,Build '{B}' finished after 1 minute 1 second 4 milliseconds.
1795625700,,ui,say,\\n==> Wait completed after 1 minute 1 second 4 milliseconds
1795625700,,ui,say,\\n==> Builds finished. The artifacts of successful builds are:
1795625700,{B},artifact-count,1
1795625700,{B},artifact,0,builder-id,huawei.huaweicloud
1795625700,{B},artifact,0,id,img-1
1795625700,{B},artifact,0,string,An image was created: img-1
1795625700,{B},artifact,0,files-count,0
1795625700,{B},artifact,0,end
1795625700,,ui,say,--> {B}: An image was created: img-1
"
    );
    assert_eq!(out, expected);
}

#[test]
fn machine_readable_failure_output() {
    let r = MachineReadableReporter::new(Vec::new(), redactor()).with_clock(fixed_clock());
    feed(&r, &failure_sequence());
    let out = String::from_utf8(r.into_inner()).expect("utf8");
    let expected = format!(
        "1795625700,,ui,say,==> {B}: Creating server
1795625700,,ui,error,==> {B}: Creating server: failed after 1 second 500 milliseconds
1795625700,,ui,error,==> {B}: quota exceeded%!(PACKER_COMMA) key <sensitive>
1795625700,,ui,error,Build '{B}' errored after 2 seconds: quota exceeded%!(PACKER_COMMA) try another flavor
1795625700,,ui,say,\\n==> Wait completed after 2 seconds
1795625700,,error-count,1
1795625700,,ui,error,\\n==> Some builds didn't complete successfully and had errors:
1795625700,{B},error,quota exceeded%!(PACKER_COMMA) try another flavor
1795625700,,ui,error,--> {B}: quota exceeded%!(PACKER_COMMA) try another flavor
1795625700,,ui,say,\\n==> Builds finished but no artifacts were created.
"
    );
    assert_eq!(out, expected);
}

#[test]
fn plain_exact_output_with_and_without_timestamps() {
    let r = PlainReporter::new(Vec::new(), redactor()).with_clock(fixed_clock());
    feed(&r, &success_sequence());
    let out = String::from_utf8(r.into_inner()).expect("utf8");
    assert_eq!(
        out,
        format!(
            "==> {B}: Creating temporary keypair: cce-ib-abc123-kp
    {B}: Created keypair cce-ib-abc123-kp: cce-ib-abc123-kp
    {B}: hello, world
    {B}: password is <sensitive>
==> {B}: warning: apt is slow
==> {B}: Warning: ssh_timeout is short
Build '{B}' finished after 1 minute 1 second 4 milliseconds.

==> Wait completed after 1 minute 1 second 4 milliseconds

==> Builds finished. The artifacts of successful builds are:
--> {B}: An image was created: img-1

==> Step times:
{B} (succeeded): 1 minute 1 second 4 milliseconds
  keypair: 420 milliseconds
"
        )
    );

    let r = PlainReporter::new(Vec::new(), redactor())
        .with_clock(fixed_clock())
        .with_timestamps(true);
    feed(&r, &failure_sequence());
    let ts = "2026-11-25T16:55:00Z";
    assert_eq!(
        String::from_utf8(r.into_inner()).expect("utf8"),
        format!(
            "{ts}: ==> {B}: Creating server
{ts}: ==> {B}: Creating server: failed after 1 second 500 milliseconds
{ts}: ==> {B}: quota exceeded, key <sensitive>
{ts}: Build '{B}' errored after 2 seconds: quota exceeded, try another flavor

==> Wait completed after 2 seconds

==> Some builds didn't complete successfully and had errors:
--> {B}: quota exceeded, try another flavor

==> Builds finished but no artifacts were created.
"
        )
    );
}

/// Every form of the secret a careless step could print, in every field that carries text.
fn leaky_events() -> Vec<Event> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(SECRET);
    let json = serde_json::to_string(SECRET).expect("string");
    let forms = [SECRET.to_string(), b64, json[1..json.len() - 1].to_string()];
    let mut out = Vec::new();
    for f in &forms {
        out.push(Event::StepStarted {
            build: B.into(),
            step: format!("login {f}"),
        });
        out.push(Event::Output {
            build: B.into(),
            provisioner: "shell".into(),
            stream: Stream::Stderr,
            line: format!("token={f}"),
        });
        out.push(Event::Error {
            build: None,
            message: format!("bad {f}, retry"),
        });
        out.push(Event::Artifact {
            build: B.into(),
            builder_id: "huawei.huaweicloud".into(),
            id: "img".into(),
            description: format!("An image {f}"),
        });
    }
    out.push(Event::BuildFinished {
        build: B.into(),
        status: BuildStatus::Failed,
        artifacts: vec![],
        elapsed_ms: 1,
        steps: vec![],
        error: Some(format!("auth failed for {SECRET}")),
    });
    out
}

fn assert_no_secret(what: &str, text: &str) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(SECRET);
    for needle in [
        SECRET,
        "Adm1n%!(PACKER_COMMA)P@ss",
        "Adm1n,P@ss",
        b64.as_str(),
        "P@ss\\\"word",
    ] {
        assert!(!text.contains(needle), "{what} leaked {needle:?}:\n{text}");
    }
    assert!(
        text.contains("<sensitive>"),
        "{what}: nothing was redacted:\n{text}"
    );
}

#[test]
fn secrets_are_redacted_in_every_sink() {
    let events = leaky_events();
    let json = JsonLinesReporter::new(Vec::new(), redactor());
    feed(&json, &events);
    assert_no_secret("json", &String::from_utf8(json.into_inner()).expect("utf8"));

    let csv = MachineReadableReporter::new(Vec::new(), redactor());
    feed(&csv, &events);
    assert_no_secret(
        "machine-readable",
        &String::from_utf8(csv.into_inner()).expect("utf8"),
    );

    let plain = PlainReporter::new(Vec::new(), redactor()).with_timestamps(true);
    feed(&plain, &events);
    assert_no_secret(
        "plain",
        &String::from_utf8(plain.into_inner()).expect("utf8"),
    );

    let rec = RecordingReporter::new(redactor());
    feed(&rec, &events);
    assert_no_secret("recording", &format!("{:?}", rec.events()));
}

#[test]
fn fanout_reaches_every_sink() {
    let rec = Arc::new(RecordingReporter::new(Redactor::new()));
    struct Shared(Arc<RecordingReporter>);
    impl Reporter for Shared {
        fn report(&self, e: &Event) -> std::io::Result<()> {
            self.0.report(e)
        }
    }
    let fan = FanoutReporter::new()
        .with(Shared(rec.clone()))
        .with(Shared(rec.clone()));
    feed(&fan, &failure_sequence()[..1]);
    assert_eq!(rec.events().len(), 2);
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Runs the installed packer with a null builder and a shell-local provisioner, then feeds the
/// equivalent events to our sinks: apart from times, durations and the temp script name the
/// machine-readable and plain outputs must be identical.
#[test]
fn matches_real_packer_output() {
    let packer = std::process::Command::new("packer").arg("version").output();
    if packer.map(|o| !o.status.success()).unwrap_or(true) {
        assert!(
            !ci(),
            "packer is required under CI=true (make deps installs it)"
        );
        eprintln!("skipping: packer is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let template = dir.path().join("t.pkr.hcl");
    std::fs::write(
        &template,
        r#"source "null" "builder" {
  communicator = "none"
}
build {
  name    = "turbo-node"
  sources = ["source.null.builder"]
  provisioner "shell-local" {
    inline = ["echo hello, world", "sleep 0.3", "echo line2 >&2"]
  }
}
"#,
    )
    .expect("write template");
    let run = |args: &[&str]| {
        let o = std::process::Command::new("packer")
            .arg("build")
            .args(args)
            .arg(&template)
            .current_dir(dir.path())
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("PACKER_LOG")
            .output()
            .expect("run packer");
        assert!(
            o.status.success(),
            "packer failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let b = "turbo-node.null.builder".to_string();
    let events = vec![
        Event::BuildStarted {
            build: b.clone(),
            build_id: "x".into(),
        },
        Event::StepStarted {
            build: b.clone(),
            step: "Running local shell script: /tmp/packer-shell1".into(),
        },
        Event::Output {
            build: b.clone(),
            provisioner: "shell-local".into(),
            stream: Stream::Stdout,
            line: "hello, world".into(),
        },
        Event::Output {
            build: b.clone(),
            provisioner: "shell-local".into(),
            stream: Stream::Stderr,
            line: "line2".into(),
        },
        Event::Artifact {
            build: b.clone(),
            builder_id: "fnoeding.null".into(),
            id: "Null".into(),
            description: "Did not export anything. This is the null builder".into(),
        },
        Event::BuildFinished {
            build: b.clone(),
            status: BuildStatus::Succeeded,
            artifacts: vec!["Null".into()],
            elapsed_ms: 5,
            steps: vec![],
            error: None,
        },
    ];
    let normalize = |s: &str| {
        let s = regex::Regex::new(r"(?m)^\d+,")
            .expect("re")
            .replace_all(s, "T,")
            .into_owned();
        let s = regex::Regex::new(r"after [0-9a-z ]*[0-9a-z]")
            .expect("re")
            .replace_all(&s, "after D")
            .into_owned();
        regex::Regex::new(r"packer-shell\d+")
            .expect("re")
            .replace_all(&s, "packer-shellN")
            .into_owned()
    };

    let (packer_csv, _) = run(&["-machine-readable"]);
    let ours = MachineReadableReporter::new(Vec::new(), Redactor::new());
    feed(&ours, &events);
    let ours = String::from_utf8(ours.into_inner()).expect("utf8");
    assert_eq!(normalize(&ours), normalize(&packer_csv));

    let (packer_out, packer_err) = run(&["-color=false"]);
    let ours = PlainReporter::new(Vec::new(), Redactor::new());
    feed(&ours, &events);
    assert_eq!(
        normalize(&String::from_utf8(ours.into_inner()).expect("utf8")),
        normalize(&packer_out)
    );
    assert_eq!(
        packer_err, "",
        "packer 1.6 prints its UI, errors included, on stdout"
    );
}
