//! The live terminal view, written into a `Vec<u8>` with a fake clock and replayed through a
//! small terminal model (cursor up, erase down) to check what the user sees: steps with state
//! and elapsed time, output above the block, progress bars, the rate limit, the width, the
//! final summary, and that no secret is written in any form.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cce_engine::events::{BuildStatus, Clock, Event, Reporter, StepStatus, StepTiming, Stream};
use cce_engine::ledger::ResourceKind;
use cce_engine::redact::{Redactor, forms_of};
use cce_engine::tty::{MIN_REDRAW_INTERVAL, TtyReporter};
use time::OffsetDateTime;

const A: &str = "turbo-node.huaweicloud-ecs.builder";
const B: &str = "turbo-node.huaweicloud-ecs.second";
const SECRET: &str = "Adm1n,P@ss\"word";

struct FakeClock(Arc<Mutex<OffsetDateTime>>);

impl FakeClock {
    fn new() -> (FakeClock, Clock) {
        let now = Arc::new(Mutex::new(time::macros::datetime!(2026-11-25 16:55:00 UTC)));
        let read = now.clone();
        let clock: Clock = Arc::new(move || *read.lock().unwrap());
        (FakeClock(now), clock)
    }

    fn advance(&self, ms: u64) {
        let mut t = self.0.lock().unwrap();
        *t += Duration::from_millis(ms);
    }
}

fn reporter(width: usize) -> (TtyReporter<Vec<u8>>, FakeClock, Redactor) {
    let redactor = Redactor::new();
    redactor.add(SECRET).unwrap();
    let (fake, clock) = FakeClock::new();
    let r = TtyReporter::new(Vec::new(), redactor.clone())
        .with_clock(clock)
        .with_width(width)
        .with_color(false);
    (r, fake, redactor)
}

/// What a terminal shows after receiving `bytes`: handles `\r`, `\n`, cursor up (`ESC[nA`),
/// erase down (`ESC[J`) and ignores other CSI sequences (colours, cursor visibility).
fn screen(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8(bytes.to_vec()).expect("utf-8 output");
    let mut lines: Vec<String> = vec![String::new()];
    let mut row = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                lines[row].clear();
            }
            '\n' => {
                row += 1;
                if lines.len() <= row {
                    lines.push(String::new());
                }
            }
            '\x1b' => {
                assert_eq!(chars.next(), Some('['), "only CSI sequences are written");
                let mut param = String::new();
                let fin = loop {
                    let c = chars.next().expect("a complete escape sequence");
                    if c.is_ascii_alphabetic() {
                        break c;
                    }
                    param.push(c);
                };
                match fin {
                    'A' => {
                        let n: usize = param.parse().expect("a row count");
                        assert!(n <= row, "cursor moved above the output: {n} > {row}");
                        row -= n;
                    }
                    'J' => {
                        lines.truncate(row + 1);
                        lines[row].clear();
                    }
                    'm' | 'h' | 'l' => {}
                    other => panic!("unexpected escape sequence ending in {other}"),
                }
            }
            c => {
                // The view only writes at the start of a line after \r or \n; restart the
                // line when the cursor came back to it.
                lines[row].push(c);
            }
        }
    }
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

fn shown(r: &TtyReporter<Vec<u8>>) -> Vec<String> {
    screen(&r.written())
}

fn step(build: &str, title: &str) -> Event {
    Event::StepStarted {
        build: build.into(),
        step: title.into(),
    }
}

fn done(build: &str, title: &str, ms: u64, status: StepStatus) -> Event {
    Event::StepFinished {
        build: build.into(),
        step: title.into(),
        elapsed_ms: ms,
        status,
    }
}

fn out(build: &str, line: &str) -> Event {
    Event::Output {
        build: build.into(),
        provisioner: "shell".into(),
        stream: Stream::Stdout,
        line: line.into(),
    }
}

fn started(build: &str) -> Event {
    Event::BuildStarted {
        build: build.into(),
        build_id: "20261125T165500Z-abc123".into(),
    }
}

#[test]
fn steps_appear_with_their_state_and_elapsed_time() {
    let (r, clock, _) = reporter(80);
    r.report(&started(A)).unwrap();
    r.report(&step(A, "Creating temporary keypair")).unwrap();
    clock.advance(420);
    r.report(&done(
        A,
        "Creating temporary keypair",
        420,
        StepStatus::Succeeded,
    ))
    .unwrap();
    r.report(&step(A, "Launching server")).unwrap();
    clock.advance(12_300);
    r.tick().unwrap();
    let s = shown(&r);
    assert_eq!(s.len(), 3, "{s:#?}");
    assert!(s[0].starts_with(A) && s[0].ends_with("12.7s"), "{s:#?}");
    assert!(s[1].starts_with("  ✓ Creating temporary keypair"), "{s:#?}");
    assert!(s[1].ends_with("0.4s"), "{s:#?}");
    let mark = s[2].chars().nth(2).unwrap();
    assert!("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏".contains(mark), "a running step spins: {s:#?}");
    assert!(
        s[2][2 + mark.len_utf8()..].starts_with(" Launching server"),
        "{s:#?}"
    );
    assert!(s[2].ends_with("12.3s"), "{s:#?}");

    clock.advance(200);
    r.report(&done(A, "Launching server", 12_500, StepStatus::Failed))
        .unwrap();
    r.tick().unwrap();
    let s = shown(&r);
    assert!(
        s[2].starts_with("  ✗ Launching server") && s[2].ends_with("12.5s"),
        "{s:#?}"
    );
}

#[test]
fn output_lines_are_printed_above_the_block_in_packers_style() {
    let (r, clock, _) = reporter(80);
    r.report(&started(A)).unwrap();
    r.report(&step(A, "Provisioning with shell script: setup.sh"))
        .unwrap();
    for i in 0..5 {
        clock.advance(150);
        r.report(&out(A, &format!("line {i}"))).unwrap();
    }
    r.report(&Event::Output {
        build: A.into(),
        provisioner: "shell".into(),
        stream: Stream::Stderr,
        line: "warning: apt is slow".into(),
    })
    .unwrap();
    r.report(&Event::ResourceCreated {
        build: A.into(),
        kind: ResourceKind::Keypair,
        id: "kp-1".into(),
        name: "cce-ib-abc123-kp".into(),
    })
    .unwrap();
    clock.advance(150);
    r.tick().unwrap();
    let s = shown(&r);
    let expected_top = [
        format!("    {A}: line 0"),
        format!("    {A}: line 1"),
        format!("    {A}: line 2"),
        format!("    {A}: line 3"),
        format!("    {A}: line 4"),
        format!("==> {A}: warning: apt is slow"),
        format!("    {A}: Created keypair cce-ib-abc123-kp: kp-1"),
    ];
    assert_eq!(&s[..7], &expected_top, "{s:#?}");
    // The block follows, once: the redraws erased the earlier copies.
    assert_eq!(s.len(), 9, "{s:#?}");
    assert!(s[7].starts_with(A), "{s:#?}");
    assert!(
        s[8].contains("Provisioning with shell script: setup.sh"),
        "{s:#?}"
    );
    assert_eq!(s.iter().filter(|l| l.starts_with(A)).count(), 1, "{s:#?}");
}

#[test]
fn several_builds_have_their_own_lines_and_progress_bars() {
    let (r, clock, _) = reporter(100);
    r.report(&started(A)).unwrap();
    r.report(&started(B)).unwrap();
    r.report(&step(A, "Uploading the log")).unwrap();
    r.report(&step(B, "Waiting for the image job")).unwrap();
    r.report(&Event::Progress {
        build: A.into(),
        what: "upload".into(),
        done: 5 * 1024 * 1024,
        total: Some(10 * 1024 * 1024),
    })
    .unwrap();
    r.report(&Event::Progress {
        build: B.into(),
        what: "image job".into(),
        done: 45,
        total: Some(100),
    })
    .unwrap();
    clock.advance(100);
    r.tick().unwrap();
    let s = shown(&r);
    assert_eq!(s.len(), 6, "{s:#?}");
    assert!(s[0].starts_with(A), "{s:#?}");
    assert!(s[1].contains("Uploading the log"), "{s:#?}");
    assert!(s[2].starts_with("    upload ["), "{s:#?}");
    assert!(s[2].contains(" 50%  5.0 MiB / 10.0 MiB"), "{s:#?}");
    assert!(s[3].starts_with(B), "{s:#?}");
    assert!(s[4].contains("Waiting for the image job"), "{s:#?}");
    assert!(
        s[5].starts_with("    image job [") && s[5].ends_with(" 45%"),
        "{s:#?}"
    );

    // A new step of A replaces its bar; B's part stays.
    clock.advance(100);
    r.report(&step(A, "Stopping the server")).unwrap();
    clock.advance(100);
    r.tick().unwrap();
    let s = shown(&r);
    assert_eq!(s.len(), 6, "{s:#?}");
    assert!(s[2].contains("Stopping the server"), "{s:#?}");
    assert!(s[1].starts_with("  ✓ Uploading the log"), "{s:#?}");
    assert!(s[3].starts_with(B), "{s:#?}");
}

#[test]
fn redraws_are_limited_to_ten_per_second() {
    let (r, clock, _) = reporter(80);
    r.report(&started(A)).unwrap();
    r.report(&step(A, "Uploading")).unwrap();
    let first = r.redraws();
    for i in 1..=1000u64 {
        clock.advance(1);
        r.report(&Event::Progress {
            build: A.into(),
            what: "upload".into(),
            done: i * 1024,
            total: Some(1000 * 1024),
        })
        .unwrap();
        r.report(&out(A, &format!("line {i}"))).unwrap();
    }
    let during = r.redraws() - first;
    // One second of events: at most one redraw per 100 ms.
    assert!(during <= 10, "{during} redraws in one second");
    assert!(during >= 9, "the view stood still: {during} redraws");
    // Held-back lines and the latest progress appear at the next due redraw.
    clock.advance(MIN_REDRAW_INTERVAL.as_millis() as u64);
    r.tick().unwrap();
    let s = shown(&r);
    assert_eq!(s.iter().filter(|l| l.contains(": line ")).count(), 1000);
    assert!(s.last().unwrap().contains("100%"), "{s:#?}");
}

#[test]
fn block_lines_are_cut_to_the_terminal_width() {
    let (r, clock, _) = reporter(40);
    let long_build = format!("{A}.with-a-very-long-name-indeed");
    let long_line = "x".repeat(120);
    r.report(&started(&long_build)).unwrap();
    r.report(&step(
        &long_build,
        &"Provisioning with shell script ".repeat(4),
    ))
    .unwrap();
    r.report(&Event::Progress {
        build: long_build.clone(),
        what: "uploading a rather large file to the server".into(),
        done: 1,
        total: Some(2),
    })
    .unwrap();
    r.report(&out(&long_build, &long_line)).unwrap();
    clock.advance(100);
    r.tick().unwrap();
    let s = shown(&r);
    let block = &s[1..];
    assert_eq!(block.len(), 3, "{s:#?}");
    for line in block {
        assert!(
            line.chars().count() < 40,
            "{line:?} is wider than the terminal"
        );
        assert!(line.contains('…'), "{line:?} was not cut");
    }
    assert!(
        block[1].ends_with("0.1s"),
        "the elapsed time stays visible: {s:#?}"
    );
    // Output above the block is not cut: the terminal wraps it and it scrolls away.
    assert_eq!(s[0], format!("    {long_build}: {long_line}"));
}

#[test]
fn timestamps_prefix_the_lines_above_the_block() {
    let (r, clock, _) = reporter(80);
    let r = r.with_timestamps(true);
    r.report(&started(A)).unwrap();
    r.report(&out(A, "hello")).unwrap();
    clock.advance(100);
    r.tick().unwrap();
    let s = shown(&r);
    assert_eq!(
        s[0],
        format!("2026-11-25T16:55:00Z:     {A}: hello"),
        "{s:#?}"
    );
}

fn run_two_builds(r: &TtyReporter<Vec<u8>>, clock: &FakeClock) {
    r.report(&started(A)).unwrap();
    r.report(&started(B)).unwrap();
    r.report(&step(A, "Creating temporary keypair")).unwrap();
    r.report(&step(B, "Creating temporary keypair")).unwrap();
    clock.advance(400);
    r.report(&done(
        A,
        "Creating temporary keypair",
        400,
        StepStatus::Succeeded,
    ))
    .unwrap();
    r.report(&step(A, "Creating the image")).unwrap();
    clock.advance(61_000);
    r.report(&Event::Artifact {
        build: A.into(),
        builder_id: "huawei.huaweicloud".into(),
        id: "img-1".into(),
        description: "An image was created: img-1".into(),
    })
    .unwrap();
    r.report(&Event::BuildFinished {
        build: A.into(),
        status: BuildStatus::Succeeded,
        artifacts: vec!["img-1".into()],
        elapsed_ms: 61_400,
        steps: vec![
            StepTiming {
                step: "Creating temporary keypair".into(),
                ms: 400,
            },
            StepTiming {
                step: "Creating the image".into(),
                ms: 61_000,
            },
        ],
        error: None,
    })
    .unwrap();
    clock.advance(1_000);
    r.report(&Event::BuildFinished {
        build: B.into(),
        status: BuildStatus::Failed,
        artifacts: vec![],
        elapsed_ms: 62_400,
        steps: vec![],
        error: Some("quota exceeded for flavor s7n.large.2".into()),
    })
    .unwrap();
}

#[test]
fn finished_builds_collapse_and_the_command_ends_with_packers_summary() {
    let (r, clock, _) = reporter(80);
    run_two_builds(&r, &clock);
    let s = shown(&r);
    assert!(
        s.contains(&format!(
            "Build '{A}' finished after 1 minute 1 second 400 milliseconds."
        )),
        "{s:#?}"
    );
    assert!(
        s.contains(&format!(
            "==> {B}: Creating temporary keypair: failed after 1 minute 2 seconds 400 milliseconds"
        )),
        "{s:#?}"
    );
    assert!(s.contains(&format!("Build '{B}' errored after 1 minute 2 seconds 400 milliseconds: quota exceeded for flavor s7n.large.2")), "{s:#?}");
    // Both builds ended: no block is left.
    assert!(
        !s.iter()
            .any(|l| l.starts_with("  ") && l.contains("Creating")),
        "{s:#?}"
    );
    r.finish().unwrap();
    let s = shown(&r);
    let text = s.join("\n");
    let expected = format!(
        "==> Wait completed after 1 minute 2 seconds 400 milliseconds

==> Some builds didn't complete successfully and had errors:
--> {B}: quota exceeded for flavor s7n.large.2

==> Builds finished. The artifacts of successful builds are:
--> {A}: An image was created: img-1

==> Step times:"
    );
    assert!(text.contains(&expected), "{text}");
    let table_start = s.iter().position(|l| l == "==> Step times:").unwrap();
    let table = &s[table_start + 1..];
    assert_eq!(table.len(), 5, "{table:#?}");
    assert!(
        table[0].starts_with(&format!("{A} (succeeded)")) && table[0].ends_with("1m01s"),
        "{table:#?}"
    );
    assert!(
        table[1].starts_with("  ✓ Creating temporary keypair") && table[1].ends_with("0.4s"),
        "{table:#?}"
    );
    assert!(
        table[2].starts_with("  ✓ Creating the image") && table[2].ends_with("1m01s"),
        "{table:#?}"
    );
    assert!(
        table[3].starts_with(&format!("{B} (failed)")) && table[3].ends_with("1m02s"),
        "{table:#?}"
    );
    assert!(
        table[4].starts_with("  ✗ Creating temporary keypair") && table[4].ends_with("1m02s"),
        "{table:#?}"
    );
    // finish is idempotent, and dropping after it prints nothing more.
    let before = r.written().len();
    r.finish().unwrap();
    assert_eq!(r.written().len(), before);
}

#[test]
fn the_summary_lists_builds_in_the_planned_order_whichever_ended_first() {
    let (r, clock, _) = reporter(80);
    // B comes first in the template but ends after A.
    r.plan(&[B.to_string(), A.to_string()]);
    run_two_builds(&r, &clock);
    r.finish().unwrap();
    let s = shown(&r);
    let table_start = s.iter().position(|l| l == "==> Step times:").unwrap();
    let table = &s[table_start + 1..];
    assert!(table[0].starts_with(&format!("{B} (failed)")), "{table:#?}");
    assert!(
        table[2].starts_with(&format!("{A} (succeeded)")),
        "{table:#?}"
    );
}

#[test]
fn no_artifacts_is_said_as_packer_says_it() {
    let (r, clock, _) = reporter(80);
    r.report(&started(A)).unwrap();
    clock.advance(2_000);
    r.report(&Event::BuildFinished {
        build: A.into(),
        status: BuildStatus::Succeeded,
        artifacts: vec![],
        elapsed_ms: 2_000,
        steps: vec![],
        error: None,
    })
    .unwrap();
    r.finish().unwrap();
    let text = shown(&r).join("\n");
    assert!(
        text.contains("==> Builds finished but no artifacts were created."),
        "{text}"
    );
    assert!(!text.contains("Step times"), "{text}");
}

#[test]
fn an_unfinished_build_is_shown_as_stopped_at_the_end() {
    let (r, clock, _) = reporter(80);
    r.report(&started(A)).unwrap();
    r.report(&step(A, "Waiting for SSH to become available"))
        .unwrap();
    clock.advance(5_000);
    r.finish().unwrap();
    let s = shown(&r);
    assert!(
        s.contains(&format!(
            "==> {A}: Waiting for SSH to become available: interrupted"
        )),
        "{s:#?}"
    );
    assert!(
        s.contains(&format!("--> {A}: the build did not report its end")),
        "{s:#?}"
    );
}

#[test]
fn secrets_never_reach_the_terminal_in_any_form() {
    let (r, clock, redactor) = reporter(200);
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(SECRET)
    };
    let late = "generated-key-material-0123456789";
    r.report(&started(A)).unwrap();
    r.report(&step(A, &format!("Logging in with {SECRET}")))
        .unwrap();
    r.report(&Event::Progress {
        build: A.into(),
        what: format!("upload of {b64}"),
        done: 1,
        total: Some(2),
    })
    .unwrap();
    r.report(&out(A, &format!("password is {SECRET}"))).unwrap();
    clock.advance(100);
    r.tick().unwrap();
    // Registered in the middle of the build on another handle of the same redactor.
    redactor.add(late).unwrap();
    r.report(&out(A, &format!("key: {late}"))).unwrap();
    r.report(&Event::Error {
        build: Some(A.into()),
        message: format!("cannot log in as admin:{SECRET}"),
    })
    .unwrap();
    r.report(&Event::Artifact {
        build: A.into(),
        builder_id: "huawei.huaweicloud".into(),
        id: "img-1".into(),
        description: format!("An image was created: img-1 ({SECRET})"),
    })
    .unwrap();
    clock.advance(100);
    r.report(&Event::BuildFinished {
        build: A.into(),
        status: BuildStatus::Failed,
        artifacts: vec![],
        elapsed_ms: 200,
        steps: vec![],
        error: Some(format!("bad password {SECRET}")),
    })
    .unwrap();
    r.finish().unwrap();
    let raw = String::from_utf8(r.written()).unwrap();
    for secret in [SECRET, late] {
        for form in forms_of(secret) {
            assert!(!raw.contains(&form), "{form:?} was written:\n{raw}");
        }
    }
    assert!(raw.contains("password is <sensitive>"), "{raw}");
    assert!(raw.contains("key: <sensitive>"), "{raw}");
    assert!(raw.contains("upload of <sensitive>"), "{raw}");
}

#[test]
fn lines_after_the_summary_are_printed_plainly() {
    let (r, _clock, _) = reporter(80);
    r.report(&started(A)).unwrap();
    r.finish().unwrap();
    r.report(&Event::Warning {
        build: None,
        message: "cleanup left a keypair".into(),
    })
    .unwrap();
    let s = shown(&r);
    assert_eq!(
        s.last().unwrap(),
        "Warning: cleanup left a keypair",
        "{s:#?}"
    );
}

#[test]
fn messages_said_inside_a_step_leave_the_block_when_the_step_ends() {
    let (r, clock, _) = reporter(80);
    r.report(&started(A)).unwrap();
    r.report(&step(A, "Creating temporary keypair")).unwrap();
    r.report(&done(
        A,
        "Creating temporary keypair",
        300,
        StepStatus::Succeeded,
    ))
    .unwrap();
    r.report(&step(A, "Launching server")).unwrap();
    clock.advance(1_000);
    // The ECS builder says progress messages with StepStarted while the step runs.
    r.report(&step(A, "Waiting for server srv-1 to become ACTIVE"))
        .unwrap();
    clock.advance(100);
    r.tick().unwrap();
    let s = shown(&r);
    assert_eq!(s.len(), 4, "{s:#?}");
    assert!(
        s[2].starts_with("  · Launching server"),
        "not shown as done yet: {s:#?}"
    );
    assert!(s[3].contains("Waiting for server srv-1"), "{s:#?}");
    clock.advance(2_000);
    r.report(&done(A, "Launching server", 3_100, StepStatus::Succeeded))
        .unwrap();
    clock.advance(100);
    r.tick().unwrap();
    let s = shown(&r);
    assert_eq!(
        s[0],
        format!("==> {A}: Waiting for server srv-1 to become ACTIVE"),
        "{s:#?}"
    );
    assert_eq!(s.len(), 4, "{s:#?}");
    assert!(
        s[3].starts_with("  ✓ Launching server") && s[3].ends_with("3.1s"),
        "{s:#?}"
    );
}

#[test]
fn steps_without_explicit_ends_are_done_when_the_next_one_starts() {
    let (r, clock, _) = reporter(80);
    r.report(&started(A)).unwrap();
    r.report(&step(A, "Provisioning with shell script: a.sh"))
        .unwrap();
    clock.advance(2_500);
    r.report(&step(A, "Provisioning with shell script: b.sh"))
        .unwrap();
    clock.advance(100);
    r.tick().unwrap();
    let s = shown(&r);
    assert!(
        s[1].starts_with("  ✓ Provisioning with shell script: a.sh") && s[1].ends_with("2.5s"),
        "{s:#?}"
    );
    assert!(s[2].contains("b.sh") && s[2].ends_with("0.1s"), "{s:#?}");
}

#[test]
fn long_builds_show_their_last_steps_and_count_the_others() {
    let (r, clock, _) = reporter(80);
    r.report(&started(A)).unwrap();
    for i in 0..10 {
        r.report(&step(A, &format!("step {i}"))).unwrap();
        clock.advance(10);
    }
    clock.advance(100);
    r.tick().unwrap();
    let s = shown(&r);
    assert_eq!(s.len(), 1 + cce_engine::tty::MAX_STEPS_SHOWN, "{s:#?}");
    assert!(s[1].contains("… 5 earlier steps"), "{s:#?}");
    assert!(
        s[2].contains("step 5") && s.last().unwrap().contains("step 9"),
        "{s:#?}"
    );
}

/// A writer whose bytes stay readable after it was moved into a reporter.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[test]
fn reporter_for_picks_the_sink_of_each_mode() {
    use cce_engine::tty::reporter_for_writer;
    let events = [
        started(A),
        step(A, "Creating temporary keypair"),
        out(A, &format!("secret {SECRET}")),
    ];
    let run = |tty: bool, json: bool, csv: bool, stamps: bool| {
        let buf = SharedBuf::default();
        let r = reporter_for_writer(buf.clone(), tty, json, csv, stamps, {
            let red = Redactor::new();
            red.add(SECRET).unwrap();
            red
        });
        for e in &events {
            r.report(e).unwrap();
        }
        r.finish().unwrap();
        let text = buf.text();
        assert!(!text.contains(SECRET), "{text}");
        text
    };
    let json = run(true, true, false, false);
    assert!(json.lines().all(|l| l.starts_with("{\"time\":")), "{json}");
    let csv = run(true, false, true, false);
    assert!(csv.contains(",ui,message,"), "{csv}");
    let plain = run(false, false, false, false);
    assert!(!plain.contains('\x1b'), "{plain}");
    assert!(
        plain.contains(&format!("==> {A}: Creating temporary keypair")),
        "{plain}"
    );
    let stamped = run(false, false, false, true);
    assert!(
        stamped.contains(&format!("Z: ==> {A}: Creating temporary keypair")),
        "{stamped}"
    );
    let live = run(true, false, false, false);
    assert!(live.contains("\x1b[?25l"), "{live:?}");
    let s = screen(live.as_bytes());
    assert_eq!(s[0], format!("    {A}: secret <sensitive>"), "{s:#?}");
}

#[test]
fn the_live_view_gives_way_to_ci_dumb_terminals_and_a_debug_log_on_stderr() {
    use cce_engine::tty::live_view_allowed;
    let env = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<std::collections::HashMap<_, _>>()
    };
    assert!(live_view_allowed(&env(&[("TERM", "xterm-256color")])));
    assert!(!live_view_allowed(&env(&[("TERM", "dumb")])));
    assert!(!live_view_allowed(&env(&[("CI", "true")])));
    assert!(!live_view_allowed(&env(&[("PACKER_LOG", "1")])));
    assert!(live_view_allowed(&env(&[("PACKER_LOG", "0")])));
    assert!(live_view_allowed(&env(&[
        ("PACKER_LOG", "1"),
        ("PACKER_LOG_PATH", "packer_1.log")
    ])));
}

#[test]
fn ui_lines_are_copied_into_the_debug_log_redacted() {
    use cce_engine::logsink::{RedactingMakeWriter, debug_subscriber};
    let redactor = Redactor::new();
    redactor.add(SECRET).unwrap();
    let log = SharedBuf::default();
    let screen_out = SharedBuf::default();
    let subscriber = debug_subscriber(RedactingMakeWriter::new(log.clone(), redactor.clone()));
    tracing::subscriber::with_default(subscriber, || {
        let r = cce_engine::tty::reporter_for_writer(
            screen_out.clone(),
            false,
            false,
            false,
            false,
            redactor.clone(),
        );
        r.report(&started(A)).unwrap();
        r.report(&step(A, "Creating temporary keypair")).unwrap();
        r.report(&out(A, &format!("password is {SECRET}"))).unwrap();
        r.report(&Event::Progress {
            build: A.into(),
            what: "upload".into(),
            done: 1,
            total: Some(2),
        })
        .unwrap();
        r.report(&Event::BuildFinished {
            build: A.into(),
            status: BuildStatus::Failed,
            artifacts: vec![],
            elapsed_ms: 5,
            steps: vec![],
            error: Some("ssh timed out".into()),
        })
        .unwrap();
        r.finish().unwrap();
    });
    let text = log.text();
    assert!(
        text.contains(&format!("ui: ==> {A}: Creating temporary keypair")),
        "{text}"
    );
    assert!(
        text.contains(&format!("ui:     {A}: password is <sensitive>")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "ui: error: Build '{A}' errored after 5 milliseconds: ssh timed out"
        )),
        "{text}"
    );
    assert!(!text.contains("upload"), "progress is not logged: {text}");
    for form in forms_of(SECRET) {
        assert!(!text.contains(&form), "{form:?} in the log:\n{text}");
    }
    // The screen got the same lines.
    assert!(
        screen_out
            .text()
            .contains(&format!("==> {A}: Creating temporary keypair"))
    );
}

#[test]
fn messages_of_the_command_are_written_at_once() {
    let (r, _clock, _) = reporter(80);
    r.report(&started(A)).unwrap();
    r.report(&step(A, "Waiting for SSH")).unwrap();
    // Within the redraw interval, but the process may exit right after this line.
    r.report(&Event::Warning {
        build: None,
        message: "Interrupt received: stopping and cleaning up".into(),
    })
    .unwrap();
    let s = shown(&r);
    assert_eq!(
        s[0], "Warning: Interrupt received: stopping and cleaning up",
        "{s:#?}"
    );
    assert!(s[1].starts_with(A), "the block is redrawn below it: {s:#?}");
}
