//! `cce-image-builder localcloud serve --servers …` and `localcloud gc` as processes: the ready
//! line says what runs servers and an impossible `--servers sandbox` is refused with the reason.
//! (`localcloud gc` is tested in `crates/cli/tests/cli_localcloud_gc.rs`.) Needs the binary built (`make test` builds the workspace
//! first); under `CI=true` a missing binary fails the test.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn binary() -> Option<PathBuf> {
    // target/debug/deps/sandbox_cli-… → target/debug/cce-image-builder
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("cce-image-builder");
    bin.exists().then_some(bin)
}

fn require_binary() -> Option<PathBuf> {
    let bin = binary();
    if bin.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true and the cce-image-builder binary is not built");
        }
        eprintln!("skipping: cce-image-builder is not built (run `cargo build --workspace`)");
    }
    bin
}

/// Starts `serve` with `extra` flags and returns its ready line, after stopping it with SIGTERM
/// and checking it exits 0.
fn ready_line(bin: &PathBuf, extra: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    ready_line_on(bin, dir.path(), extra)
}

fn ready_line_on(bin: &PathBuf, state: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let mut child = Command::new(bin)
        .args(["localcloud", "serve", "--state"])
        .arg(state)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) else {
        let _ = child.kill();
        panic!("no ready line within 20 s");
    };
    let ready: serde_json::Value = serde_json::from_str(line.trim()).expect("the ready line is JSON");
    let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().is_ok_and(|s| s.success());
    assert!(sent, "SIGTERM was delivered");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the local cloud did not stop within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "exit status {code:?}");
    ready
}

#[test]
fn ready_line_says_what_runs_servers() {
    let Some(bin) = require_binary() else { return };
    assert_eq!(ready_line(&bin, &["--servers", "record"])["servers"], "record");
    let default = ready_line(&bin, &[]);
    match cce_sandbox::host_supports_sandboxes() {
        Ok(()) => {
            assert_eq!(default["servers"], "sandbox");
            assert_eq!(ready_line(&bin, &["--servers", "sandbox"])["servers"], "sandbox");
        }
        Err(reason) => {
            assert_eq!(default["servers"], "record");
            let dir = tempfile::tempdir().unwrap();
            let out = Command::new(&bin)
                .args(["localcloud", "serve", "--servers", "sandbox", "--state"])
                .arg(dir.path())
                .output()
                .unwrap();
            assert!(!out.status.success());
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("--servers record") && err.contains(&reason.to_string()), "{err}");
        }
    }
}

#[test]
fn a_state_sandboxes_cannot_reach_is_refused_or_falls_back_to_records() {
    let Some(bin) = require_binary() else { return };
    if cce_sandbox::host_supports_sandboxes().is_err() {
        eprintln!("skipping: the host cannot run sandboxes, so --servers sandbox is refused earlier");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let closed = tmp.path().join("closed");
    std::fs::create_dir(&closed).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let state = closed.join("state");
    let out = Command::new(&bin)
        .args(["localcloud", "serve", "--servers", "sandbox", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{} is not searchable by others", closed.display())) && err.contains("chmod o+x"), "{err}");
    let ready = ready_line_on(&bin, &state, &[]);
    assert_eq!(ready["servers"], "record");
}
