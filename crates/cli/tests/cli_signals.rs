//! The signal handler with real signals: `examples/signals_probe` installs it and the test sends
//! SIGINT and SIGTERM with `kill`, checking what is said, that the first signal only interrupts
//! (cleanup runs to its end), and that the third Ctrl-C exits with 130 at once.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const ID: &str = "20261125T165500Z-abc123";

/// The probe built next to this test by `cargo test` / `cargo build --all-targets`.
fn probe() -> Option<PathBuf> {
    let exe = std::env::current_exe().expect("the test's own path");
    let dir = exe.parent()?.parent()?;
    let path = dir.join("examples").join("signals_probe");
    if path.exists() {
        return Some(path);
    }
    let msg = format!(
        "{} is not built: run `cargo build -p cce-image-builder --examples` (cargo test of the whole package builds it)",
        path.display()
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg} (CI=true makes this a failure)");
    }
    eprintln!("skipping: {msg}");
    None
}

struct Probe {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Probe {
    fn start(path: &PathBuf, cleanup_ms: u64) -> Probe {
        let mut child = Command::new(path)
            .arg(cleanup_ms.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the probe starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut p = Probe { child, lines };
        p.expect("ready");
        p
    }

    fn expect(&mut self, want: &str) {
        let got = self
            .lines
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("no line within 10 s while waiting for {want:?}: {e}"));
        assert_eq!(got, want);
    }

    fn kill(&self, sig: &str) {
        let st = Command::new("kill")
            .args(["-s", sig, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(st.success(), "kill -s {sig} failed");
    }

    fn exit_code(&mut self, within: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(st) = self.child.try_wait().expect("wait on the probe") {
                return st.code();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the probe did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn three_ctrl_c_interrupt_remind_then_exit_with_130() {
    let Some(path) = probe() else { return };
    // Cleanup would take 30 s: only the third Ctrl-C can end the probe in time.
    let mut p = Probe::start(&path, 30_000);
    p.kill("INT");
    p.expect("say: Interrupt received: stopping and cleaning up");
    p.expect("cancelled: Interrupt");
    p.kill("INT");
    p.expect(&format!(
        "say: Cleanup is running; press Ctrl-C again to stop now and leave the rest to `cce-image-builder cleanup {ID}`"
    ));
    // The second one did not stop it.
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        p.child.try_wait().expect("wait").is_none(),
        "the second Ctrl-C ended the probe"
    );
    p.kill("INT");
    p.expect(&format!(
        "say: Stopping now without finishing cleanup; the build's journal is kept: run `cce-image-builder cleanup {ID}` to delete what is left"
    ));
    assert_eq!(p.exit_code(Duration::from_secs(5)), Some(130));
}

#[test]
fn sigterm_lets_cleanup_finish_and_exits_with_143() {
    let Some(path) = probe() else { return };
    let mut p = Probe::start(&path, 300);
    p.kill("TERM");
    p.expect("say: Interrupt received: stopping and cleaning up");
    p.expect("cancelled: Terminate");
    p.expect("cleanup finished");
    assert_eq!(p.exit_code(Duration::from_secs(5)), Some(143));
}
