//! The build's event model and the sinks that show it: JSON lines (`--json`), Packer's
//! `-machine-readable` CSV and Packer's plain text (optionally with `-timestamp-ui`).
//!
//! The CSV and text sinks reproduce what `packer build` 1.6 prints (observed with the installed
//! packer and a null builder): `==> build: …` for steps and provisioner stderr, `    build: …` for
//! provisioner stdout, `Build '…' finished after …`, then the artifact rows. Every sink passes
//! every value through the shared [`Redactor`] before escaping it and the finished line once
//! more, so a secret cannot reach the screen, a CI log or a parsing script in any form (Packer
//! 1.6's machine-readable output prints sensitive variables unfiltered).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ledger::ResourceKind;
use crate::redact::Redactor;

/// Which output stream of a provisioner a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Succeeded,
    Failed,
    Skipped,
    Interrupted,
}

/// How a build ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildStatus {
    Succeeded,
    Failed,
    Interrupted,
}

/// Time spent in one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepTiming {
    pub step: String,
    pub ms: u64,
}

/// One thing that happened during a build. `build` is the build's display name as Packer forms
/// it (`turbo-node.huaweicloud-ecs.builder`); `step` is the step's human title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    BuildStarted {
        build: String,
        build_id: String,
    },
    StepStarted {
        build: String,
        step: String,
    },
    StepFinished {
        build: String,
        step: String,
        elapsed_ms: u64,
        status: StepStatus,
    },
    ResourceCreated {
        build: String,
        kind: ResourceKind,
        id: String,
        name: String,
    },
    ResourceDeleted {
        build: String,
        kind: ResourceKind,
        id: String,
        name: String,
    },
    Output {
        build: String,
        provisioner: String,
        stream: Stream,
        line: String,
    },
    Progress {
        build: String,
        what: String,
        done: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total: Option<u64>,
    },
    Artifact {
        build: String,
        /// Packer's builder id of the artifact (`huawei.huaweicloud` for ECS images).
        builder_id: String,
        id: String,
        description: String,
    },
    BuildFinished {
        build: String,
        status: BuildStatus,
        artifacts: Vec<String>,
        elapsed_ms: u64,
        steps: Vec<StepTiming>,
        /// Why the build failed, when it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        build: Option<String>,
        message: String,
    },
    Warning {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        build: Option<String>,
        message: String,
    },
}

impl Event {
    /// A copy with every text value passed through the redactor.
    pub fn redacted(&self, r: &Redactor) -> Event {
        let s = |v: &String| r.redact(v).into_owned();
        let o = |v: &Option<String>| v.as_ref().map(|v| r.redact(v).into_owned());
        match self {
            Event::BuildStarted { build, build_id } => Event::BuildStarted {
                build: s(build),
                build_id: s(build_id),
            },
            Event::StepStarted { build, step } => Event::StepStarted {
                build: s(build),
                step: s(step),
            },
            Event::StepFinished {
                build,
                step,
                elapsed_ms,
                status,
            } => Event::StepFinished {
                build: s(build),
                step: s(step),
                elapsed_ms: *elapsed_ms,
                status: *status,
            },
            Event::ResourceCreated {
                build,
                kind,
                id,
                name,
            } => Event::ResourceCreated {
                build: s(build),
                kind: kind.clone(),
                id: s(id),
                name: s(name),
            },
            Event::ResourceDeleted {
                build,
                kind,
                id,
                name,
            } => Event::ResourceDeleted {
                build: s(build),
                kind: kind.clone(),
                id: s(id),
                name: s(name),
            },
            Event::Output {
                build,
                provisioner,
                stream,
                line,
            } => Event::Output {
                build: s(build),
                provisioner: s(provisioner),
                stream: *stream,
                line: s(line),
            },
            Event::Progress {
                build,
                what,
                done,
                total,
            } => Event::Progress {
                build: s(build),
                what: s(what),
                done: *done,
                total: *total,
            },
            Event::Artifact {
                build,
                builder_id,
                id,
                description,
            } => Event::Artifact {
                build: s(build),
                builder_id: s(builder_id),
                id: s(id),
                description: s(description),
            },
            Event::BuildFinished {
                build,
                status,
                artifacts,
                elapsed_ms,
                steps,
                error,
            } => Event::BuildFinished {
                build: s(build),
                status: *status,
                artifacts: artifacts.iter().map(s).collect(),
                elapsed_ms: *elapsed_ms,
                steps: steps
                    .iter()
                    .map(|t| StepTiming {
                        step: s(&t.step),
                        ms: t.ms,
                    })
                    .collect(),
                error: o(error),
            },
            Event::Error { build, message } => Event::Error {
                build: o(build),
                message: s(message),
            },
            Event::Warning { build, message } => Event::Warning {
                build: o(build),
                message: s(message),
            },
        }
    }
}

/// Receives the events of a build. Implementations must redact.
pub trait Reporter: Send + Sync {
    fn report(&self, event: &Event) -> io::Result<()>;

    /// Called once when the command has run all its builds: a sink that holds output back (the
    /// terminal view prints its summary here) writes it now. The line sinks have nothing left.
    fn finish(&self) -> io::Result<()> {
        Ok(())
    }

    /// Called once before the builds start, with their names in template order: a sink that
    /// prints a summary at the end lists the builds in this order, whichever ended first.
    fn plan(&self, _builds: &[String]) {}
}

/// Where `build` stands in `order`; builds not in it come last, in the order they ended.
pub(crate) fn planned_position(order: &[String], build: &str) -> usize {
    order.iter().position(|n| n == build).unwrap_or(usize::MAX)
}

/// Source of the current time, injectable for exact-output tests.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Poisoning only means a panic while writing; the writer itself is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// RFC 3339 at second precision, as Go's `time.RFC3339` prints it.
pub(crate) fn rfc3339_seconds(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// `--json`: one JSON object per event, with a `time` field first.
pub struct JsonLinesReporter<W: Write + Send> {
    out: Mutex<W>,
    redactor: Redactor,
    clock: Clock,
}

impl<W: Write + Send> JsonLinesReporter<W> {
    pub fn new(out: W, redactor: Redactor) -> Self {
        Self {
            out: Mutex::new(out),
            redactor,
            clock: system_clock(),
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn into_inner(self) -> W {
        self.out.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Serialize)]
struct JsonLine<'a> {
    time: String,
    #[serde(flatten)]
    event: &'a Event,
}

impl<W: Write + Send> Reporter for JsonLinesReporter<W> {
    fn report(&self, event: &Event) -> io::Result<()> {
        let event = event.redacted(&self.redactor);
        let line = JsonLine {
            time: rfc3339_seconds((self.clock)()),
            event: &event,
        };
        let mut text = serde_json::to_string(&line).map_err(io::Error::other)?;
        text = self.redactor.redact(&text).into_owned();
        text.push('\n');
        let mut out = lock(&self.out);
        out.write_all(text.as_bytes())?;
        out.flush()
    }
}

/// One line of Packer's UI, before a sink renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UiLine {
    /// `ui,say`; `build_scoped` lines get the `-timestamp-ui` prefix.
    Say {
        text: String,
        build_scoped: bool,
    },
    Message {
        text: String,
        build_scoped: bool,
    },
    Error {
        text: String,
        build_scoped: bool,
    },
    /// A machine-readable-only row: `target,type,args…`.
    Machine {
        target: String,
        kind: String,
        args: Vec<String>,
    },
}

#[derive(Debug, Clone)]
struct PendingArtifact {
    builder_id: String,
    id: String,
    description: String,
}

/// Turns events into Packer's UI lines; holds artifacts until the build finishes, as Packer
/// prints them only after all builds are done.
#[derive(Default)]
pub(crate) struct PackerUi {
    artifacts: BTreeMap<String, Vec<PendingArtifact>>,
    /// Builds that ended since the last summary, in the order they ended.
    finished: Vec<FinishedBuild>,
    /// The longest build's time: what Packer's "Wait completed" reports.
    wait_ms: u64,
    /// Build names in template order, for the summary (see [`Reporter::plan`]).
    order: Vec<String>,
}

/// A build that ended, kept for the summary.
struct FinishedBuild {
    build: String,
    artifacts: Vec<PendingArtifact>,
    /// Why it failed; `None` when it succeeded.
    why: Option<String>,
    status: BuildStatus,
    elapsed_ms: u64,
    steps: Vec<StepTiming>,
}

/// Go's `durafmt` style used by Packer: `1 minute 2 seconds 30 milliseconds`.
pub fn human_duration(ms: u64) -> String {
    const UNITS: [(&str, u64); 6] = [
        ("week", 7 * 24 * 3_600_000),
        ("day", 24 * 3_600_000),
        ("hour", 3_600_000),
        ("minute", 60_000),
        ("second", 1_000),
        ("millisecond", 1),
    ];
    let mut left = ms;
    let mut parts = Vec::new();
    for (name, size) in UNITS {
        let n = left / size;
        left %= size;
        if n > 0 {
            parts.push(format!("{n} {name}{}", if n == 1 { "" } else { "s" }));
        }
    }
    if parts.is_empty() {
        "0 milliseconds".into()
    } else {
        parts.join(" ")
    }
}

impl PackerUi {
    pub(crate) fn plan(&mut self, builds: &[String]) {
        self.order = builds.to_vec();
    }

    pub(crate) fn lines(&mut self, event: &Event) -> Vec<UiLine> {
        let say = |text: String| UiLine::Say {
            text,
            build_scoped: true,
        };
        let message = |text: String| UiLine::Message {
            text,
            build_scoped: true,
        };
        let error = |text: String| UiLine::Error {
            text,
            build_scoped: true,
        };
        let prefixed = |build: &Option<String>, m: &str| match build {
            Some(b) => format!("==> {b}: {m}"),
            None => m.to_owned(),
        };
        match event {
            Event::BuildStarted { .. } | Event::Progress { .. } => vec![],
            Event::StepStarted { build, step } => vec![say(format!("==> {build}: {step}"))],
            Event::StepFinished {
                build,
                step,
                elapsed_ms,
                status,
            } => match status {
                StepStatus::Failed => vec![error(format!(
                    "==> {build}: {step}: failed after {}",
                    human_duration(*elapsed_ms)
                ))],
                StepStatus::Interrupted => vec![error(format!("==> {build}: {step}: interrupted"))],
                StepStatus::Succeeded | StepStatus::Skipped => vec![],
            },
            Event::ResourceCreated {
                build,
                kind,
                id,
                name,
            } => {
                vec![message(format!("    {build}: Created {kind} {name}: {id}"))]
            }
            Event::ResourceDeleted {
                build,
                kind,
                id,
                name,
            } => {
                vec![message(format!("    {build}: Deleted {kind} {name}: {id}"))]
            }
            Event::Output {
                build,
                stream: Stream::Stdout,
                line,
                ..
            } => {
                vec![message(format!("    {build}: {line}"))]
            }
            Event::Output {
                build,
                stream: Stream::Stderr,
                line,
                ..
            } => {
                vec![error(format!("==> {build}: {line}"))]
            }
            Event::Artifact {
                build,
                builder_id,
                id,
                description,
            } => {
                self.artifacts
                    .entry(build.clone())
                    .or_default()
                    .push(PendingArtifact {
                        builder_id: builder_id.clone(),
                        id: id.clone(),
                        description: description.clone(),
                    });
                vec![]
            }
            Event::Error { build, message } => vec![error(prefixed(build, message))],
            Event::Warning { build, message } => {
                vec![say(prefixed(build, &format!("Warning: {message}")))]
            }
            Event::BuildFinished {
                build,
                status,
                elapsed_ms,
                error: why,
                steps,
                ..
            } => {
                let dur = human_duration(*elapsed_ms);
                self.wait_ms = self.wait_ms.max(*elapsed_ms);
                let artifacts = self.artifacts.remove(build).unwrap_or_default();
                if *status == BuildStatus::Succeeded {
                    self.finished.push(FinishedBuild {
                        build: build.clone(),
                        artifacts,
                        why: None,
                        status: *status,
                        elapsed_ms: *elapsed_ms,
                        steps: steps.clone(),
                    });
                    vec![say(format!("Build '{build}' finished after {dur}."))]
                } else {
                    let why = why.clone().unwrap_or_else(|| match status {
                        BuildStatus::Interrupted => "build was interrupted".into(),
                        _ => "build failed".into(),
                    });
                    self.finished.push(FinishedBuild {
                        build: build.clone(),
                        artifacts: Vec::new(),
                        why: Some(why.clone()),
                        status: *status,
                        elapsed_ms: *elapsed_ms,
                        steps: steps.clone(),
                    });
                    vec![error(format!("Build '{build}' errored after {dur}: {why}"))]
                }
            }
        }
    }

    /// [`summary`](Self::summary), then the time of each build and of each of its steps, in
    /// template order: what a log read after the fact needs to see where the minutes went.
    pub(crate) fn summary_with_step_times(&mut self) -> Vec<UiLine> {
        let mut timed: Vec<(String, BuildStatus, u64, Vec<StepTiming>)> = self
            .finished
            .iter()
            .filter(|f| !f.steps.is_empty())
            .map(|f| (f.build.clone(), f.status, f.elapsed_ms, f.steps.clone()))
            .collect();
        timed.sort_by_key(|(build, ..)| planned_position(&self.order, build));
        let mut out = self.summary();
        if timed.is_empty() {
            return out;
        }
        let say = |text: String| UiLine::Say {
            text,
            build_scoped: false,
        };
        out.push(say("\n==> Step times:".into()));
        for (build, status, elapsed_ms, steps) in timed {
            let status = match status {
                BuildStatus::Succeeded => "succeeded",
                BuildStatus::Failed => "failed",
                BuildStatus::Interrupted => "interrupted",
            };
            out.push(say(format!(
                "{build} ({status}): {}",
                human_duration(elapsed_ms)
            )));
            for step in steps {
                out.push(say(format!("  {}: {}", step.step, human_duration(step.ms))));
            }
        }
        out
    }

    /// What Packer prints once after every build ended: the wait, the errors of the failed
    /// builds, the artifacts of the successful ones. Empty when no build finished since the
    /// last summary.
    pub(crate) fn summary(&mut self) -> Vec<UiLine> {
        if self.finished.is_empty() {
            return Vec::new();
        }
        let mut finished = std::mem::take(&mut self.finished);
        finished.sort_by_key(|f| planned_position(&self.order, &f.build));
        let top_say = |text: String| UiLine::Say {
            text,
            build_scoped: false,
        };
        let top_error = |text: String| UiLine::Error {
            text,
            build_scoped: false,
        };
        let mut out = vec![top_say(format!(
            "\n==> Wait completed after {}",
            human_duration(std::mem::take(&mut self.wait_ms))
        ))];
        let failed: Vec<(&String, &String)> = finished
            .iter()
            .filter_map(|f| f.why.as_ref().map(|w| (&f.build, w)))
            .collect();
        if !failed.is_empty() {
            out.push(UiLine::Machine {
                target: String::new(),
                kind: "error-count".into(),
                args: vec![failed.len().to_string()],
            });
            out.push(top_error(
                "\n==> Some builds didn't complete successfully and had errors:".into(),
            ));
            for (build, why) in &failed {
                out.push(UiLine::Machine {
                    target: (*build).clone(),
                    kind: "error".into(),
                    args: vec![(*why).clone()],
                });
                out.push(top_error(format!("--> {build}: {why}")));
            }
        }
        if finished.iter().all(|f| f.artifacts.is_empty()) {
            out.push(top_say(
                "\n==> Builds finished but no artifacts were created.".into(),
            ));
            return out;
        }
        out.push(top_say(
            "\n==> Builds finished. The artifacts of successful builds are:".into(),
        ));
        for f in finished.iter().filter(|f| !f.artifacts.is_empty()) {
            let build = &f.build;
            let machine = |args: Vec<String>| UiLine::Machine {
                target: build.clone(),
                kind: "artifact".into(),
                args,
            };
            out.push(UiLine::Machine {
                target: build.clone(),
                kind: "artifact-count".into(),
                args: vec![f.artifacts.len().to_string()],
            });
            for (i, a) in f.artifacts.iter().enumerate() {
                let i = i.to_string();
                out.push(machine(vec![
                    i.clone(),
                    "builder-id".into(),
                    a.builder_id.clone(),
                ]));
                out.push(machine(vec![i.clone(), "id".into(), a.id.clone()]));
                out.push(machine(vec![
                    i.clone(),
                    "string".into(),
                    a.description.clone(),
                ]));
                out.push(machine(vec![i.clone(), "files-count".into(), "0".into()]));
                out.push(machine(vec![i.clone(), "end".into()]));
                out.push(top_say(format!("--> {build}: {}", a.description)));
            }
        }
        out
    }
}

/// A reporter writing Packer's UI lines in one of its text formats; `F` (`MachineReadable` or
/// `Plain`) names the format. One lock holds the writer and the UI model so lines of concurrent
/// builds never interleave.
pub struct UiReporter<W: Write + Send, F> {
    state: Mutex<(W, PackerUi)>,
    redactor: Redactor,
    clock: Clock,
    format: UiFormat,
    kind: PhantomData<fn() -> F>,
}

/// What the machine-readable and plain reporters do differently.
enum UiFormat {
    MachineReadable,
    Plain { timestamps: bool },
}

impl<W: Write + Send, F> UiReporter<W, F> {
    fn with_format(out: W, redactor: Redactor, format: UiFormat) -> Self {
        Self {
            state: Mutex::new((out, PackerUi::default())),
            redactor,
            clock: system_clock(),
            format,
            kind: PhantomData,
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn into_inner(self) -> W {
        self.state.into_inner().unwrap_or_else(|e| e.into_inner()).0
    }

    fn write_lines(&self, out: &mut W, lines: Vec<UiLine>) -> io::Result<()> {
        let text = match self.format {
            UiFormat::MachineReadable => self.machine_readable(lines),
            UiFormat::Plain { timestamps } => self.plain(lines, timestamps),
        };
        if text.is_empty() {
            return Ok(());
        }
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    fn machine_readable(&self, lines: Vec<UiLine>) -> String {
        let ts = (self.clock)().unix_timestamp();
        let mut text = String::new();
        for line in lines {
            let (target, kind, args) = match line {
                UiLine::Say { text, .. } => {
                    (String::new(), "ui".to_owned(), vec!["say".into(), text])
                }
                UiLine::Message { text, .. } => {
                    (String::new(), "ui".to_owned(), vec!["message".into(), text])
                }
                UiLine::Error { text, .. } => {
                    (String::new(), "ui".to_owned(), vec!["error".into(), text])
                }
                UiLine::Machine { target, kind, args } => (target, kind, args),
            };
            let args: Vec<String> = args
                .iter()
                .map(|a| escape_machine_field(&self.redactor.redact(a)))
                .collect();
            let row = format!(
                "{ts},{},{kind},{}\n",
                escape_machine_field(&target),
                args.join(",")
            );
            text.push_str(&self.redactor.redact(&row));
        }
        text
    }

    fn plain(&self, lines: Vec<UiLine>, timestamps: bool) -> String {
        if lines.is_empty() {
            return String::new();
        }
        let stamp = timestamps.then(|| rfc3339_seconds((self.clock)()));
        let mut text = String::new();
        for line in lines {
            let (line, scoped) = match line {
                UiLine::Say { text, build_scoped }
                | UiLine::Message { text, build_scoped }
                | UiLine::Error { text, build_scoped } => (text, build_scoped),
                UiLine::Machine { .. } => continue,
            };
            match (&stamp, scoped) {
                (Some(ts), true) => text.push_str(&format!("{ts}: {line}\n")),
                _ => text.push_str(&format!("{line}\n")),
            }
        }
        self.redactor.redact(&text).into_owned()
    }
}

impl<W: Write + Send, F> Reporter for UiReporter<W, F> {
    fn report(&self, event: &Event) -> io::Result<()> {
        let event = event.redacted(&self.redactor);
        let mut state = lock(&self.state);
        let (out, ui) = &mut *state;
        let lines = ui.lines(&event);
        self.write_lines(out, lines)
    }

    fn finish(&self) -> io::Result<()> {
        let mut state = lock(&self.state);
        let (out, ui) = &mut *state;
        let lines = match self.format {
            UiFormat::MachineReadable => ui.summary(),
            UiFormat::Plain { .. } => ui.summary_with_step_times(),
        };
        self.write_lines(out, lines)
    }

    fn plan(&self, builds: &[String]) {
        lock(&self.state).1.plan(builds);
    }
}

/// Packer's escaping of one machine-readable field.
pub fn escape_machine_field(s: &str) -> String {
    s.replace(',', "%!(PACKER_COMMA)")
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}

/// Names Packer's `-machine-readable` format: `timestamp,target,type,data…` with `,` written
/// as `%!(PACKER_COMMA)` and line breaks as literal `\n`/`\r`.
pub struct MachineReadable;

/// Packer's `-machine-readable` output.
pub type MachineReadableReporter<W> = UiReporter<W, MachineReadable>;

impl<W: Write + Send> UiReporter<W, MachineReadable> {
    pub fn new(out: W, redactor: Redactor) -> Self {
        Self::with_format(out, redactor, UiFormat::MachineReadable)
    }
}

/// Names Packer's human format.
pub struct Plain;

/// Packer's human output, optionally prefixed with an RFC 3339 timestamp (`-timestamp-ui`).
/// Like `packer build`, error lines go to the same stream as the others (its UI's error writer
/// is stdout), so their order is kept.
pub type PlainReporter<W> = UiReporter<W, Plain>;

impl<W: Write + Send> UiReporter<W, Plain> {
    pub fn new(out: W, redactor: Redactor) -> Self {
        Self::with_format(out, redactor, UiFormat::Plain { timestamps: false })
    }

    /// Prefix build lines with `<RFC 3339 time>: ` as `packer build -timestamp-ui` does.
    pub fn with_timestamps(mut self, on: bool) -> Self {
        self.format = UiFormat::Plain { timestamps: on };
        self
    }
}

/// Copies the build's UI lines into the debug log as Packer does (`ui: ==> …`), so the log file
/// (which the build copies into the image) tells the whole story. Progress events are left out:
/// they come many times a second during an upload. The log's writer redacts again.
#[derive(Default)]
pub struct TracingReporter {
    ui: Mutex<PackerUi>,
    redactor: Redactor,
}

impl TracingReporter {
    pub fn new(redactor: Redactor) -> Self {
        Self {
            ui: Mutex::new(PackerUi::default()),
            redactor,
        }
    }
}

impl Reporter for TracingReporter {
    fn report(&self, event: &Event) -> io::Result<()> {
        if !tracing::enabled!(target: "ui", tracing::Level::INFO) {
            return Ok(());
        }
        let event = event.redacted(&self.redactor);
        let lines = lock(&self.ui).lines(&event);
        Self::log(lines);
        Ok(())
    }

    fn finish(&self) -> io::Result<()> {
        let lines = lock(&self.ui).summary();
        Self::log(lines);
        Ok(())
    }

    fn plan(&self, builds: &[String]) {
        lock(&self.ui).plan(builds);
    }
}

impl TracingReporter {
    fn log(lines: Vec<UiLine>) {
        for line in lines {
            match line {
                UiLine::Say { text, .. } | UiLine::Message { text, .. } => {
                    tracing::info!(target: "ui", "{}", text.trim_start_matches('\n'))
                }
                UiLine::Error { text, .. } => {
                    tracing::info!(target: "ui", "error: {}", text.trim_start_matches('\n'))
                }
                UiLine::Machine { .. } => {}
            }
        }
    }
}

/// A shared reporter reports like the one it shares.
impl<R: Reporter + ?Sized> Reporter for Arc<R> {
    fn report(&self, event: &Event) -> io::Result<()> {
        (**self).report(event)
    }

    fn finish(&self) -> io::Result<()> {
        (**self).finish()
    }

    fn plan(&self, builds: &[String]) {
        (**self).plan(builds)
    }
}

/// Keeps (redacted) events in memory, for tests of code that reports.
#[derive(Default)]
pub struct RecordingReporter {
    events: Mutex<Vec<Event>>,
    redactor: Redactor,
}

impl RecordingReporter {
    pub fn new(redactor: Redactor) -> Self {
        Self {
            events: Mutex::new(Vec::new()),
            redactor,
        }
    }

    pub fn events(&self) -> Vec<Event> {
        lock(&self.events).clone()
    }
}

impl Reporter for RecordingReporter {
    fn report(&self, event: &Event) -> io::Result<()> {
        lock(&self.events).push(event.redacted(&self.redactor));
        Ok(())
    }
}

/// Sends every event to several sinks; reports the first error after trying all of them.
#[derive(Default)]
pub struct FanoutReporter {
    sinks: Vec<Box<dyn Reporter>>,
}

impl FanoutReporter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, sink: impl Reporter + 'static) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }
}

impl Reporter for FanoutReporter {
    fn report(&self, event: &Event) -> io::Result<()> {
        let mut first = Ok(());
        for s in &self.sinks {
            if let Err(e) = s.report(event) {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }

    fn finish(&self) -> io::Result<()> {
        let mut first = Ok(());
        for s in &self.sinks {
            if let Err(e) = s.finish() {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }

    fn plan(&self, builds: &[String]) {
        for s in &self.sinks {
            s.plan(builds);
        }
    }
}
