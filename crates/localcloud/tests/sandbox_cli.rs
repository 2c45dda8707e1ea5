//! `cce-image-builder localcloud serve --servers …` and `localcloud gc` as processes: the ready
//! line says what runs servers and an impossible `--servers sandbox` is refused with the reason.
//! (`localcloud gc` is tested in `crates/cli/tests/cli_localcloud_gc.rs`.) Needs the binary built (`make test` builds the workspace
//! first); under `CI=true` a missing binary fails the test.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::serve::{read_ready_line, require_binary, stop_with_sigterm};

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
    let ready = read_ready_line(&mut child);
    stop_with_sigterm(&mut child, Duration::from_secs(30));
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
