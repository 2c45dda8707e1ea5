//! The interactive flags through a real pseudo-terminal (`script` from util-linux runs the
//! binary on one and passes our input to it): `-debug` pauses after each step until Enter, and
//! `-on-error=ask` asks what to do with a failed build — "a" leaves its resources journaled for
//! `cleanup`, "c" cleans up. Builds on the embedded local cloud: root needed (under `CI=true` a
//! missing prerequisite fails the test).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{BIN, LocalWorld, both, require, sandboxes_ok};

/// Sandboxes, and `script` to run the build on a terminal.
fn prerequisites() -> bool {
    if !sandboxes_ok() {
        return false;
    }
    let script = Command::new("script").arg("--version").output().is_ok();
    require(if script {
        &[]
    } else {
        &["`script` (util-linux)"]
    })
}

/// Runs `build ARGS` on a pseudo-terminal in `w`, typing `input`; returns (exit code, screen).
fn build_on_terminal(w: &LocalWorld, args: &str, input: &str) -> (Option<i32>, String) {
    let line = format!("{BIN} build {args} t.pkr.hcl");
    let mut child = w
        .program("script")
        .env("TERM", "dumb")
        .args(["-qefc", &line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
        // Closing stdin would end the session before the build reads: `script` keeps the
        // terminal open until the command exits.
        std::mem::forget(stdin);
    }
    let out = child.wait_with_output().unwrap();
    (out.status.code(), both(&out))
}

/// The id of the world's one build.
fn build_id(w: &LocalWorld) -> String {
    let journals = w.journals();
    assert_eq!(journals.len(), 1, "{journals:?}");
    journals[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// A build on the local cloud whose provisioner runs `command`.
fn template(command: &str) -> String {
    format!(
        r#"
source "huaweicloud-ecs" "t" {{
  ssh_username = "root"
  image_name   = "cce-ib-tty"
  associate_public_ip_address = false
}}
build {{
  sources = ["source.huaweicloud-ecs.t"]
  provisioner "shell" {{
    inline = ["{command}"]
  }}
}}
"#
    )
}

#[test]
fn debug_pauses_after_each_step_until_enter() {
    if !prerequisites() {
        return;
    }
    let w = LocalWorld::new("cce-tty-", &template("true"));
    let (code, screen) = build_on_terminal(&w, "-debug", &"\n".repeat(40));
    assert_eq!(code, Some(0), "{screen}");
    let pauses = screen.matches("Press enter to continue").count();
    assert!(pauses >= 5, "{pauses} pauses:\n{screen}");
    assert!(screen.contains("An image was created:"), "{screen}");
}

#[test]
fn ask_abort_leaves_the_journal_and_cleanup_removes_the_rest() {
    if !prerequisites() {
        return;
    }
    let w = LocalWorld::new("cce-tty-", &template("exit 7"));
    let (code, screen) = build_on_terminal(&w, "-on-error=ask", "r\na\n");
    assert_eq!(code, Some(1), "{screen}");
    assert!(
        screen.contains("[c] Clean up and exit, [a] abort without cleanup"),
        "{screen}"
    );
    assert!(
        screen.contains("retry is not offered"),
        "the answer r is explained: {screen}"
    );
    let id = build_id(&w);
    let journal = common::read(w.journals()[0].join("journal.jsonl"));
    // The server was created and is still open in the journal.
    assert!(journal.contains("\"kind\":\"server\""), "{journal}");
    let out = w.command(&["cleanup", &id]).output().unwrap();
    let text = both(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("deleted"),
        "cleanup removed what abort left: {text}"
    );
}

#[test]
fn ask_cleanup_removes_everything() {
    if !prerequisites() {
        return;
    }
    let w = LocalWorld::new("cce-tty-", &template("exit 7"));
    let (code, screen) = build_on_terminal(&w, "-on-error=ask", "c\n");
    assert_eq!(code, Some(1), "{screen}");
    assert!(screen.contains("[c] Clean up and exit"), "{screen}");
    let id = build_id(&w);
    // Nothing is left for cleanup: the journal is closed.
    let out = w.command(&["cleanup", &id, "--dry-run"]).output().unwrap();
    let text = both(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        !text.contains("would delete") && !text.contains("deleted server"),
        "{text}"
    );
}
