//! The interactive flags through a real pseudo-terminal (`script` from util-linux runs the
//! binary on one and passes our input to it): `-debug` pauses after each step until Enter, and
//! `-on-error=ask` asks what to do with a failed build — "a" leaves its resources journaled for
//! `cleanup`, "c" cleans up. Builds on the embedded local cloud: root needed (under `CI=true` a
//! missing prerequisite fails the test).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_cce-image-builder");

fn prerequisites() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let missing = match cce_sandbox::host_supports_sandboxes() {
        Err(e) => Some(e.to_string()),
        Ok(()) if Command::new("script").arg("--version").output().is_err() => {
            Some("`script` (util-linux) is not installed".into())
        }
        Ok(()) => None,
    };
    match missing {
        None => true,
        Some(m) if ci => panic!("CI=true and a prerequisite is missing: {m}"),
        Some(m) => {
            eprintln!("skipping: {m}");
            false
        }
    }
}

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new(template: &str) -> World {
        let dir = tempfile::Builder::new().prefix("cce-tty-").tempdir_in("/var/tmp").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.path().join("t.pkr.hcl"), template).unwrap();
        World { dir }
    }

    fn xdg(&self) -> PathBuf {
        self.dir.path().join("xdg")
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.current_dir(self.dir.path())
            .env("CCE_LOCALCLOUD_STATE", self.dir.path().join("localcloud"))
            .env("XDG_STATE_HOME", self.xdg())
            .env("TERM", "dumb")
            .env_remove("HW_ACCESS_KEY")
            .env_remove("HW_SECRET_KEY")
            .env_remove("PACKER_LOG");
        c
    }

    /// Runs `build ARGS` on a pseudo-terminal, typing `input`; returns (exit code, screen).
    fn build_on_terminal(&self, args: &str, input: &str) -> (Option<i32>, String) {
        let line = format!("{BIN} build {args} t.pkr.hcl");
        let mut child = self
            .cmd("script")
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
        (
            out.status.code(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    }

    fn journals(&self) -> Vec<PathBuf> {
        let dir = self.xdg().join("cce-image-builder/builds");
        std::fs::read_dir(&dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default()
    }
}

const GOOD: &str = r#"
source "huaweicloud-ecs" "t" {
  ssh_username = "root"
  image_name   = "cce-ib-tty"
  associate_public_ip_address = false
}
build {
  sources = ["source.huaweicloud-ecs.t"]
  provisioner "shell" {
    inline = ["true"]
  }
}
"#;

const FAILING: &str = r#"
source "huaweicloud-ecs" "t" {
  ssh_username = "root"
  image_name   = "cce-ib-tty"
  associate_public_ip_address = false
}
build {
  sources = ["source.huaweicloud-ecs.t"]
  provisioner "shell" {
    inline = ["exit 7"]
  }
}
"#;

#[test]
fn debug_pauses_after_each_step_until_enter() {
    if !prerequisites() {
        return;
    }
    let w = World::new(GOOD);
    let (code, screen) = w.build_on_terminal("-debug", &"\n".repeat(40));
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
    let w = World::new(FAILING);
    let (code, screen) = w.build_on_terminal("-on-error=ask", "r\na\n");
    assert_eq!(code, Some(1), "{screen}");
    assert!(screen.contains("[c] Clean up and exit, [a] abort without cleanup"), "{screen}");
    assert!(screen.contains("retry is not offered"), "the answer r is explained: {screen}");
    let journals = w.journals();
    assert_eq!(journals.len(), 1, "{screen}");
    let id = journals[0].file_name().unwrap().to_string_lossy().into_owned();
    let journal = std::fs::read_to_string(journals[0].join("journal.jsonl")).unwrap();
    // The server was created and is still open in the journal.
    assert!(journal.contains("\"kind\":\"server\""), "{journal}");
    let out = w.cmd(BIN).args(["cleanup", &id]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("deleted"), "cleanup removed what abort left: {text}");
}

#[test]
fn ask_cleanup_removes_everything() {
    if !prerequisites() {
        return;
    }
    let w = World::new(FAILING);
    let (code, screen) = w.build_on_terminal("-on-error=ask", "c\n");
    assert_eq!(code, Some(1), "{screen}");
    assert!(screen.contains("[c] Clean up and exit"), "{screen}");
    let id = w.journals()[0].file_name().unwrap().to_string_lossy().into_owned();
    // Nothing is left for cleanup: the journal is closed.
    let out = w.cmd(BIN).args(["cleanup", &id, "--dry-run"]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("would delete") && !text.contains("deleted server"), "{text}");
}

