//! The live terminal view of a build: a compact block, redrawn in place, with one line per step
//! of each running build (✓/✗/spinner, title, elapsed time) and a progress bar for the latest
//! `Progress` event of each build (bytes uploaded, the image job's percent). Provisioner output,
//! resources and errors are printed above the block in Packer's style
//! (`    turbo-node.huaweicloud-ecs.builder: line`), so the scrollback reads like `packer build`.
//! When a build finishes its part of the block collapses into Packer's final lines; at the end
//! of the command ([`Reporter::finish`]) the artifacts (`--> NAME: An image was created: ID`)
//! and a table of step times are printed.
//!
//! Only ANSI sequences are used (cursor up, erase down). Redraws are limited to one per
//! [`MIN_REDRAW_INTERVAL`]: lines that arrive in between wait (at most that long) and are written
//! together with the next redraw in one `write`, so a flood of provisioner output neither
//! flickers nor slows the build. Every line of the block is cut to the terminal width so the
//! block can be erased by counting lines. Everything written goes through the [`Redactor`],
//! before and after formatting, as in the other sinks.
//!
//! [`reporter_for`] picks the sink for a command: JSON lines, Packer's machine-readable CSV,
//! this view on a terminal, or Packer's plain lines (CI logs, pipes).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use time::OffsetDateTime;

use crate::events::{
    BuildStatus, Clock, Event, FanoutReporter, JsonLinesReporter, MachineReadableReporter,
    PackerUi, PlainReporter, Reporter, StepStatus, TracingReporter, UiLine, human_duration, lock,
    planned_position, rfc3339_seconds, system_clock,
};
use crate::redact::Redactor;

/// The shortest time between two redraws (at most ten per second).
pub const MIN_REDRAW_INTERVAL: Duration = Duration::from_millis(100);

/// The width assumed when the terminal does not say.
pub const DEFAULT_WIDTH: usize = 80;

/// Steps of one build shown in the block; earlier ones are counted on one line.
pub const MAX_STEPS_SHOWN: usize = 6;

const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const HIDE_CURSOR: &str = "\x1b[?25l";
const SHOW_CURSOR: &str = "\x1b[?25h";
const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const CYAN: &str = "\x1b[36m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// Tells the current terminal width in columns.
pub type WidthSource = Arc<dyn Fn() -> usize + Send + Sync>;

/// A step line's state. Engines announce steps with `StepStarted`; the ECS builder also ends
/// each with `StepFinished` and says messages inside a step with `StepStarted`, while the
/// provisioners only announce. So a new `StepStarted` ends the running line provisionally
/// (`Ended`); a later `StepFinished` of an earlier line shows the lines after it were messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepState {
    Running,
    /// Followed by another line without a `StepFinished` of its own (yet).
    Ended,
    Done(StepStatus),
}

#[derive(Debug, Clone)]
struct StepView {
    title: String,
    started: OffsetDateTime,
    state: StepState,
    /// Set when the step is done: the engine's figure, or the clock's for implicit ends.
    elapsed_ms: Option<u64>,
}

#[derive(Debug, Clone)]
struct ProgressView {
    what: String,
    done: u64,
    total: Option<u64>,
}

#[derive(Debug, Clone)]
struct BuildView {
    name: String,
    started: OffsetDateTime,
    steps: Vec<StepView>,
    progress: Option<ProgressView>,
    /// Whether this build ends its steps with `StepFinished` (then `Ended` lines are shown
    /// with a neutral mark until their end is known).
    explicit_ends: bool,
}

#[derive(Debug, Clone)]
struct FinishedBuild {
    name: String,
    status: BuildStatus,
    elapsed_ms: u64,
    steps: Vec<(String, u64, StepStatus)>,
    error: Option<String>,
}

struct State<W> {
    out: W,
    ui: PackerUi,
    builds: Vec<BuildView>,
    finished: Vec<FinishedBuild>,
    /// Artifact descriptions per build, printed at the end as Packer does.
    artifacts: Vec<(String, String)>,
    /// Build names in template order, for the summary (see [`Reporter::plan`]).
    order: Vec<String>,
    /// Permanent lines not yet written (they go above the block at the next redraw).
    pending: String,
    /// Character counts of the block's lines now on screen.
    drawn: Vec<usize>,
    last_draw: Option<OffsetDateTime>,
    first_start: Option<OffsetDateTime>,
    finished_called: bool,
    redraws: u64,
}

/// The live terminal view. See the module documentation.
pub struct TtyReporter<W: Write + Send> {
    state: Mutex<State<W>>,
    redactor: Redactor,
    clock: Clock,
    width: WidthSource,
    timestamps: bool,
    color: bool,
}

impl<W: Write + Send> TtyReporter<W> {
    pub fn new(out: W, redactor: Redactor) -> Self {
        Self {
            state: Mutex::new(State {
                out,
                ui: PackerUi::default(),
                builds: Vec::new(),
                finished: Vec::new(),
                artifacts: Vec::new(),
                order: Vec::new(),
                pending: String::new(),
                drawn: Vec::new(),
                last_draw: None,
                first_start: None,
                finished_called: false,
                redraws: 0,
            }),
            redactor,
            clock: system_clock(),
            width: Arc::new(|| terminal_width().unwrap_or(DEFAULT_WIDTH)),
            timestamps: false,
            color: true,
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// A fixed terminal width (tests; the default asks the terminal at every redraw).
    pub fn with_width(mut self, columns: usize) -> Self {
        self.width = Arc::new(move || columns);
        self
    }

    pub fn with_width_source(mut self, width: WidthSource) -> Self {
        self.width = width;
        self
    }

    /// Prefix build lines printed above the block with the time, as `-timestamp-ui` does.
    pub fn with_timestamps(mut self, on: bool) -> Self {
        self.timestamps = on;
        self
    }

    /// Colour the step marks (on by default).
    pub fn with_color(mut self, on: bool) -> Self {
        self.color = on;
        self
    }

    /// How many times the block was drawn (for tests of the rate limit).
    pub fn redraws(&self) -> u64 {
        lock(&self.state).redraws
    }

    /// A copy of what was written so far (tests write into a `Vec<u8>`).
    pub fn written(&self) -> W
    where
        W: Clone,
    {
        lock(&self.state).out.clone()
    }

    /// Redraws the block when it is due (spinner, elapsed times, held-back lines). Call it
    /// about every [`MIN_REDRAW_INTERVAL`]; [`TtyReporter::spawn_ticker`] does.
    pub fn tick(&self) -> io::Result<()> {
        let now = (self.clock)();
        let mut st = lock(&self.state);
        if st.finished_called || (st.builds.is_empty() && st.pending.is_empty()) {
            return Ok(());
        }
        self.render(&mut st, now, false)
    }

    /// Shares the reporter and starts a thread that calls [`TtyReporter::tick`] every
    /// [`MIN_REDRAW_INTERVAL`] for as long as another reference to it lives.
    pub fn spawn_ticker(self) -> Arc<Self>
    where
        W: 'static,
    {
        let shared = Arc::new(self);
        let weak: Weak<Self> = Arc::downgrade(&shared);
        let spawned = std::thread::Builder::new()
            .name("tty-redraw".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(MIN_REDRAW_INTERVAL);
                    let Some(reporter) = weak.upgrade() else {
                        break;
                    };
                    // A terminal that cannot be written to must not stop the build.
                    let _ = reporter.tick();
                }
            });
        if let Err(e) = spawned {
            // Without the thread the view still updates on every event; only the spinner
            // and elapsed times stand still between events.
            tracing::warn!("cannot start the terminal redraw thread: {e}");
        }
        shared
    }

    fn color<'a>(&self, code: &'a str) -> &'a str {
        if self.color { code } else { "" }
    }

    /// Updates the model; returns whether the screen must be redrawn now.
    fn apply(&self, st: &mut State<W>, event: &Event, now: OffsetDateTime) -> bool {
        let stamp = self.timestamps.then(|| rfc3339_seconds(now));
        let push_line = |st: &mut State<W>, text: &str, scoped: bool| {
            match (&stamp, scoped) {
                (Some(ts), true) => {
                    let _ = writeln!(st.pending, "{ts}: {text}");
                }
                _ => {
                    let _ = writeln!(st.pending, "{text}");
                }
            };
        };
        match event {
            Event::BuildStarted { build, .. } => {
                st.first_start.get_or_insert(now);
                view(st, build, now);
                true
            }
            Event::StepStarted { build, step } => {
                st.first_start.get_or_insert(now);
                let v = view(st, build, now);
                for s in v.steps.iter_mut().filter(|s| s.state == StepState::Running) {
                    s.state = StepState::Ended;
                    s.elapsed_ms = Some(ms_between(s.started, now));
                }
                if !v.explicit_ends {
                    v.progress = None;
                }
                v.steps.push(StepView {
                    title: step.clone(),
                    started: now,
                    state: StepState::Running,
                    elapsed_ms: None,
                });
                false
            }
            Event::StepFinished {
                build,
                step,
                elapsed_ms,
                status,
            } => {
                let v = view(st, build, now);
                v.explicit_ends = true;
                v.progress = None;
                let open = v
                    .steps
                    .iter()
                    .rposition(|s| s.title == *step && !matches!(s.state, StepState::Done(_)));
                let mut messages = Vec::new();
                match open {
                    Some(i) => {
                        v.steps[i].state = StepState::Done(*status);
                        v.steps[i].elapsed_ms = Some(*elapsed_ms);
                        // Lines announced after it were messages said during the step: they
                        // leave the block for the scrollback.
                        messages = v.steps.drain(i + 1..).map(|s| s.title).collect();
                    }
                    None => v.steps.push(StepView {
                        title: step.clone(),
                        started: now,
                        state: StepState::Done(*status),
                        elapsed_ms: Some(*elapsed_ms),
                    }),
                }
                for m in messages {
                    push_line(st, &format!("==> {build}: {m}"), true);
                }
                false
            }
            Event::Progress {
                build,
                what,
                done,
                total,
            } => {
                view(st, build, now).progress = Some(ProgressView {
                    what: what.clone(),
                    done: *done,
                    total: *total,
                });
                false
            }
            Event::Artifact {
                build,
                description,
                id,
                ..
            } => {
                let text = if description.is_empty() {
                    format!("An image was created: {id}")
                } else {
                    description.clone()
                };
                st.artifacts.push((build.clone(), text));
                false
            }
            Event::BuildFinished {
                build,
                status,
                elapsed_ms,
                steps,
                error,
                ..
            } => {
                let mut v = match st.builds.iter().position(|b| b.name == *build) {
                    Some(i) => st.builds.remove(i),
                    None => BuildView {
                        name: build.clone(),
                        started: now,
                        steps: Vec::new(),
                        progress: None,
                        explicit_ends: false,
                    },
                };
                let running_end = match status {
                    BuildStatus::Succeeded => StepStatus::Succeeded,
                    BuildStatus::Failed => StepStatus::Failed,
                    BuildStatus::Interrupted => StepStatus::Interrupted,
                };
                end_running(&mut v, now, running_end);
                let engine_ms: HashMap<&str, u64> =
                    steps.iter().map(|t| (t.step.as_str(), t.ms)).collect();
                let table: Vec<(String, u64, StepStatus)> = v
                    .steps
                    .iter()
                    .map(|s| {
                        let ms = engine_ms
                            .get(s.title.as_str())
                            .copied()
                            .or(s.elapsed_ms)
                            .unwrap_or(0);
                        let status = match s.state {
                            StepState::Done(st) => st,
                            StepState::Ended => StepStatus::Succeeded,
                            StepState::Running => running_end,
                        };
                        (s.title.clone(), ms, status)
                    })
                    .collect();
                let dur = human_duration(*elapsed_ms);
                for (title, ms, step_status) in &table {
                    match step_status {
                        StepStatus::Failed => push_line(
                            st,
                            &format!("==> {build}: {title}: failed after {}", human_duration(*ms)),
                            true,
                        ),
                        StepStatus::Interrupted => {
                            push_line(st, &format!("==> {build}: {title}: interrupted"), true)
                        }
                        StepStatus::Succeeded | StepStatus::Skipped => {}
                    }
                }
                match status {
                    BuildStatus::Succeeded => {
                        push_line(st, &format!("Build '{build}' finished after {dur}."), true)
                    }
                    _ => {
                        let why = error.clone().unwrap_or_else(|| default_reason(*status));
                        push_line(
                            st,
                            &format!("Build '{build}' errored after {dur}: {why}"),
                            true,
                        )
                    }
                }
                st.finished.push(FinishedBuild {
                    name: build.clone(),
                    status: *status,
                    elapsed_ms: *elapsed_ms,
                    steps: table,
                    error: error.clone(),
                });
                true
            }
            Event::Output { .. }
            | Event::ResourceCreated { .. }
            | Event::ResourceDeleted { .. }
            | Event::Error { .. }
            | Event::Warning { .. } => {
                for line in st.ui.lines(event) {
                    match line {
                        UiLine::Say { text, build_scoped }
                        | UiLine::Message { text, build_scoped }
                        | UiLine::Error { text, build_scoped } => {
                            push_line(st, &text, build_scoped)
                        }
                        UiLine::Machine { .. } => {}
                    }
                }
                // A message of the command itself (not of a build) is rare and may be the
                // last thing said before the process exits (the third Ctrl-C): written now.
                matches!(
                    event,
                    Event::Error { build: None, .. } | Event::Warning { build: None, .. }
                )
            }
        }
    }

    /// Writes held-back lines and the block when a redraw is due (or `force`d).
    fn render(&self, st: &mut State<W>, now: OffsetDateTime, force: bool) -> io::Result<()> {
        let due = st
            .last_draw
            .is_none_or(|t| now - t >= MIN_REDRAW_INTERVAL || now < t);
        if !force && !due {
            return Ok(());
        }
        let width = (self.width)().max(20);
        let block = self.block(st, now, width);
        if st.drawn.is_empty() && st.pending.is_empty() && block.is_empty() {
            return Ok(());
        }
        let mut text = String::from(HIDE_CURSOR);
        let rows = rows_on_screen(&st.drawn, width);
        if rows > 0 {
            let _ = write!(text, "\r\x1b[{rows}A\x1b[J");
        }
        text.push_str(&st.pending);
        let mut drawn = Vec::with_capacity(block.len());
        for (line, visible) in &block {
            text.push_str(line);
            text.push('\n');
            drawn.push(*visible);
        }
        text.push_str(SHOW_CURSOR);
        let text = self.redactor.redact(&text).into_owned();
        st.out.write_all(text.as_bytes())?;
        st.out.flush()?;
        st.pending.clear();
        st.drawn = drawn;
        st.last_draw = Some(now);
        st.redraws += 1;
        Ok(())
    }

    /// The block's lines, each with its visible width (ANSI codes excluded).
    fn block(&self, st: &State<W>, now: OffsetDateTime, width: usize) -> Vec<(String, usize)> {
        let avail = width - 1;
        let spin = SPINNER[((now.unix_timestamp_nanos() / 100_000_000) % 10) as usize];
        let mut out = Vec::new();
        for b in &st.builds {
            let header = fit(&b.name, &short_duration(ms_between(b.started, now)), avail);
            out.push((header.clone(), header.chars().count()));
            let hidden = b.steps.len().saturating_sub(MAX_STEPS_SHOWN);
            if hidden > 0 {
                let line = fit(&format!("  ✓ … {} earlier steps", hidden + 1), "", avail);
                out.push((line.clone(), line.chars().count()));
            }
            let skip = if hidden > 0 { hidden + 1 } else { 0 };
            for s in b.steps.iter().skip(skip) {
                let (mark, code) = match s.state {
                    StepState::Running => (spin, CYAN),
                    StepState::Ended if b.explicit_ends => ('·', DIM),
                    StepState::Ended => ('✓', GREEN),
                    StepState::Done(StepStatus::Succeeded) => ('✓', GREEN),
                    StepState::Done(StepStatus::Skipped) => ('-', DIM),
                    StepState::Done(StepStatus::Failed | StepStatus::Interrupted) => ('✗', RED),
                };
                let ms = s.elapsed_ms.unwrap_or_else(|| ms_between(s.started, now));
                // The mark and its spaces take 4 columns.
                let rest = fit(&s.title, &short_duration(ms), avail.saturating_sub(4));
                let visible = 4 + rest.chars().count();
                let line = format!("  {}{mark}{} {rest}", self.color(code), self.color(RESET));
                out.push((line, visible));
            }
            if let Some(p) = &b.progress {
                let line = progress_line(p, spin, avail);
                out.push((line.clone(), line.chars().count()));
            }
        }
        out
    }

    fn summary(&self, st: &State<W>, now: OffsetDateTime, width: usize) -> String {
        let mut text = String::new();
        if st.finished.is_empty() && st.artifacts.is_empty() {
            return text;
        }
        let total = st.first_start.map_or(0, |t| ms_between(t, now));
        let _ = writeln!(text, "\n==> Wait completed after {}", human_duration(total));
        // Template order, whichever build ended first (stable: a build's artifacts keep theirs).
        let mut finished: Vec<&FinishedBuild> = st.finished.iter().collect();
        finished.sort_by_key(|b| planned_position(&st.order, &b.name));
        let mut artifacts: Vec<&(String, String)> = st.artifacts.iter().collect();
        artifacts.sort_by_key(|(build, _)| planned_position(&st.order, build));
        let failed: Vec<&FinishedBuild> = finished
            .iter()
            .copied()
            .filter(|b| b.status != BuildStatus::Succeeded)
            .collect();
        if !failed.is_empty() {
            text.push_str("\n==> Some builds didn't complete successfully and had errors:\n");
            for b in failed {
                let why = b.error.clone().unwrap_or_else(|| default_reason(b.status));
                let _ = writeln!(text, "--> {}: {why}", b.name);
            }
        }
        if st.artifacts.is_empty() {
            text.push_str("\n==> Builds finished but no artifacts were created.\n");
        } else {
            text.push_str("\n==> Builds finished. The artifacts of successful builds are:\n");
            for (build, description) in artifacts {
                let _ = writeln!(text, "--> {build}: {description}");
            }
        }
        if finished.iter().any(|b| !b.steps.is_empty()) {
            text.push_str("\n==> Step times:\n");
            let avail = width - 1;
            for b in finished {
                let status = match b.status {
                    BuildStatus::Succeeded => "succeeded",
                    BuildStatus::Failed => "failed",
                    BuildStatus::Interrupted => "interrupted",
                };
                let head = format!("{} ({status})", b.name);
                let _ = writeln!(text, "{}", fit(&head, &short_duration(b.elapsed_ms), avail));
                for (title, ms, step_status) in &b.steps {
                    let mark = match step_status {
                        StepStatus::Succeeded => '✓',
                        StepStatus::Skipped => '-',
                        StepStatus::Failed | StepStatus::Interrupted => '✗',
                    };
                    let rest = fit(title, &short_duration(*ms), avail.saturating_sub(4));
                    let _ = writeln!(text, "  {mark} {rest}");
                }
            }
        }
        text
    }
}

impl<W: Write + Send> Reporter for TtyReporter<W> {
    fn report(&self, event: &Event) -> io::Result<()> {
        let event = event.redacted(&self.redactor);
        let now = (self.clock)();
        let mut st = lock(&self.state);
        if st.finished_called {
            // After the summary the block is gone: late lines are printed plainly.
            let mut ui = PackerUi::default();
            let mut text = String::new();
            for line in ui.lines(&event) {
                if let UiLine::Say { text: t, .. }
                | UiLine::Message { text: t, .. }
                | UiLine::Error { text: t, .. } = line
                {
                    let _ = writeln!(text, "{t}");
                }
            }
            st.out.write_all(self.redactor.redact(&text).as_bytes())?;
            return st.out.flush();
        }
        let force = self.apply(&mut st, &event, now);
        self.render(&mut st, now, force)
    }

    fn plan(&self, builds: &[String]) {
        lock(&self.state).order = builds.to_vec();
    }

    fn finish(&self) -> io::Result<()> {
        let now = (self.clock)();
        let mut st = lock(&self.state);
        if st.finished_called {
            return Ok(());
        }
        // Builds that never reported their end are shown as stopped where they were.
        let unfinished: Vec<String> = st.builds.iter().map(|b| b.name.clone()).collect();
        for name in unfinished {
            let elapsed_ms = st
                .builds
                .iter()
                .find(|b| b.name == name)
                .map_or(0, |b| ms_between(b.started, now));
            let end = Event::BuildFinished {
                build: name,
                status: BuildStatus::Interrupted,
                artifacts: Vec::new(),
                elapsed_ms,
                steps: Vec::new(),
                error: Some("the build did not report its end".into()),
            };
            self.apply(&mut st, &end, now);
        }
        self.render(&mut st, now, true)?;
        st.finished_called = true;
        let width = (self.width)().max(20);
        let summary = self.summary(&st, now, width);
        let rows = rows_on_screen(&st.drawn, width);
        let mut text = String::new();
        if rows > 0 {
            let _ = write!(text, "\r\x1b[{rows}A\x1b[J");
        }
        text.push_str(&summary);
        st.drawn.clear();
        let text = self.redactor.redact(&text).into_owned();
        st.out.write_all(text.as_bytes())?;
        st.out.flush()
    }
}

impl<W: Write + Send> Drop for TtyReporter<W> {
    fn drop(&mut self) {
        // The summary must not be lost when the caller forgot `finish`; errors cannot be
        // reported from a destructor.
        let _ = Reporter::finish(self);
    }
}

fn view<'a, W>(st: &'a mut State<W>, build: &str, now: OffsetDateTime) -> &'a mut BuildView {
    let i = match st.builds.iter().position(|b| b.name == build) {
        Some(i) => i,
        None => {
            st.builds.push(BuildView {
                name: build.to_owned(),
                started: now,
                steps: Vec::new(),
                progress: None,
                explicit_ends: false,
            });
            st.builds.len() - 1
        }
    };
    &mut st.builds[i]
}

/// Ends the running step of a build (steps of one build run one after another; a new step or
/// the build's end closes the previous one).
fn end_running(v: &mut BuildView, now: OffsetDateTime, status: StepStatus) {
    for s in v.steps.iter_mut().filter(|s| s.state == StepState::Running) {
        s.state = StepState::Done(status);
        s.elapsed_ms = Some(ms_between(s.started, now));
    }
}

fn default_reason(status: BuildStatus) -> String {
    match status {
        BuildStatus::Interrupted => "build was interrupted".into(),
        _ => "build failed".into(),
    }
}

fn ms_between(from: OffsetDateTime, to: OffsetDateTime) -> u64 {
    u64::try_from((to - from).whole_milliseconds()).unwrap_or(0)
}

/// Terminal rows the block's lines take at `width` (a narrowed terminal wraps them).
fn rows_on_screen(lines: &[usize], width: usize) -> usize {
    lines.iter().map(|&n| n.max(1).div_ceil(width.max(1))).sum()
}

/// `left`, then `right` flush right, in at most `avail` characters; `left` is cut with `…`.
pub fn fit(left: &str, right: &str, avail: usize) -> String {
    let rlen = right.chars().count();
    if right.is_empty() || rlen + 2 > avail {
        return truncate(left, avail);
    }
    let room = avail - rlen - 1;
    let left = truncate(left, room);
    let pad = avail - left.chars().count() - rlen;
    format!("{left}{}{right}", " ".repeat(pad))
}

/// At most `max` characters, the last one `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    // Control characters would move the cursor and break the line count.
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() <= max {
        return clean;
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = clean.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// `0.4s`, `12.3s`, `1m05s`, `1h02m`.
pub fn short_duration(ms: u64) -> String {
    let s = ms / 1000;
    if s < 60 {
        format!("{}.{}s", s, (ms % 1000) / 100)
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// `512 B`, `12.0 KiB`, `3.4 MiB`, `1.2 GiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// Whether a progress counts bytes (uploads, downloads, copies) rather than units or percent.
/// Only the first word decides: the rest names a file or an image (`image node-upload-1` is
/// a percent).
fn counts_bytes(what: &str) -> bool {
    let w = what
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    ["upload", "download", "byte", "transfer", "copy", "copied"]
        .iter()
        .any(|k| w.contains(k))
}

/// `    upload [█████░░░░░] 45%  12.0 MiB / 26.5 MiB`; a total of 100 that is not bytes is a
/// percent (the image job's progress).
fn progress_line(p: &ProgressView, spin: char, avail: usize) -> String {
    let bytes = counts_bytes(&p.what);
    let amount = |n: u64| if bytes { human_bytes(n) } else { n.to_string() };
    let line = match p.total {
        Some(total) if total > 0 => {
            let done = p.done.min(total);
            let pct = done.saturating_mul(100) / total;
            let detail = if bytes {
                format!("  {} / {}", amount(done), amount(total))
            } else if total == 100 {
                String::new()
            } else {
                format!("  {done}/{total}")
            };
            let fixed = 4 + p.what.chars().count() + 3 + 5 + detail.chars().count();
            let bar_len = avail.saturating_sub(fixed).clamp(0, 30);
            let filled = (bar_len as u64 * done / total) as usize;
            let bar = format!("{}{}", "█".repeat(filled), "░".repeat(bar_len - filled));
            format!("    {} [{bar}] {pct:>3}%{detail}", p.what)
        }
        _ => format!("    {spin} {} {}", p.what, amount(p.done)),
    };
    truncate(&line, avail)
}

/// The terminal width of stdout, when stdout is a terminal that says.
pub fn terminal_width() -> Option<usize> {
    let mut ws = nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ only writes a `winsize` into the struct we pass, which outlives the call.
    let rc = unsafe { nix::libc::ioctl(nix::libc::STDOUT_FILENO, nix::libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0).then_some(usize::from(ws.ws_col))
}

/// Whether stdout should get the live view: a terminal, not `TERM=dumb`, not under `CI=true`
/// (CI logs want plain lines even when the runner allocates a terminal), and no debug log
/// going to the same screen (`PACKER_LOG` without `PACKER_LOG_PATH` writes to stderr, whose
/// lines would break the redrawn block).
pub fn stdout_wants_live_view(env: &HashMap<String, String>) -> bool {
    io::stdout().is_terminal() && live_view_allowed(env)
}

/// The environment part of [`stdout_wants_live_view`].
pub fn live_view_allowed(env: &HashMap<String, String>) -> bool {
    let log_on = env
        .get("PACKER_LOG")
        .is_some_and(|v| !v.is_empty() && v != "0");
    let log_to_stderr = log_on && env.get("PACKER_LOG_PATH").is_none_or(|p| p.is_empty());
    env.get("TERM").is_none_or(|t| t != "dumb")
        && env.get("CI").is_none_or(|c| c != "true")
        && !log_to_stderr
}

/// The sink for a command writing to stdout: `--json` lines, Packer's `-machine-readable` CSV,
/// the live view on a terminal, or Packer's plain lines; the UI lines are also copied into the
/// debug log (when `PACKER_LOG` is on) as Packer does. All share `redactor`. Call
/// [`Reporter::finish`] when the command's builds are done: the live view prints its summary
/// then.
pub fn reporter_for(
    out_is_tty: bool,
    json: bool,
    machine_readable: bool,
    timestamps: bool,
    redactor: Redactor,
) -> Arc<dyn Reporter> {
    reporter_for_writer(
        io::stdout(),
        out_is_tty,
        json,
        machine_readable,
        timestamps,
        redactor,
    )
}

/// [`reporter_for`] writing to `out` (the live view asks the real terminal for its width).
pub fn reporter_for_writer<W: Write + Send + 'static>(
    out: W,
    out_is_tty: bool,
    json: bool,
    machine_readable: bool,
    timestamps: bool,
    redactor: Redactor,
) -> Arc<dyn Reporter> {
    let log = TracingReporter::new(redactor.clone());
    let fanout = FanoutReporter::new();
    let fanout = if json {
        fanout.with(JsonLinesReporter::new(out, redactor))
    } else if machine_readable {
        fanout.with(MachineReadableReporter::new(out, redactor))
    } else if out_is_tty {
        fanout.with(
            TtyReporter::new(out, redactor)
                .with_timestamps(timestamps)
                .spawn_ticker(),
        )
    } else {
        fanout.with(PlainReporter::new(out, redactor).with_timestamps(timestamps))
    };
    Arc::new(fanout.with(log))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_and_truncate_respect_the_width() {
        assert_eq!(fit("abc", "1.0s", 10), "abc   1.0s");
        assert_eq!(fit("abcdefghij", "1.0s", 10), "abcd… 1.0s");
        assert_eq!(truncate("a\tb", 10), "a b");
        assert_eq!(truncate("abcdef", 3), "ab…");
        assert_eq!(fit("abcdef", "123456789", 8), "abcdef");
    }

    #[test]
    fn durations_and_bytes_are_compact() {
        assert_eq!(short_duration(420), "0.4s");
        assert_eq!(short_duration(65_000), "1m05s");
        assert_eq!(short_duration(3_720_000), "1h02m");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024 + 400 * 1024), "3.4 MiB");
    }

    #[test]
    fn upload_and_image_progress_lines() {
        let view = |what: &str, done, total| ProgressView {
            what: what.into(),
            done,
            total: Some(total),
        };
        let line = progress_line(&view("upload files/big.bin", 3 << 20, 6 << 20), '|', 100);
        assert!(line.starts_with("    upload files/big.bin ["), "{line}");
        assert!(line.contains(" 50%  3.0 MiB / 6.0 MiB"), "{line}");
        // An image whose name has a byte word in it is still a percent.
        let line = progress_line(&view("image cce-node-upload-copy", 42, 100), '|', 100);
        assert!(
            line.starts_with("    image cce-node-upload-copy ["),
            "{line}"
        );
        assert!(line.ends_with("]  42%"), "{line}");
        assert!(line.contains('█') && line.contains('░'), "{line}");
    }

    #[test]
    fn wrapped_lines_count_as_several_rows() {
        assert_eq!(rows_on_screen(&[10, 0, 81], 80), 4);
    }
}
