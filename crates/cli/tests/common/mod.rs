//! What the CLI tests share: running the binary, reading its output, a work folder with a
//! template, the prerequisite check that fails under `CI=true`, a real sshd on loopback, and
//! the embedded local cloud's state folder and inventory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_cce-image-builder");

/// The binary with `args`, in `dir`, without the caller's SSH agent and with no stdin.
pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .args(args)
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null());
    cmd
}

/// Runs the binary with `args` in `dir` to its end.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output().expect("the binary runs")
}

/// Runs the binary with `args` in `dir` and the variables `env` to its end.
pub fn run_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = command(dir, args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the binary runs")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Stdout then stderr of a run.
pub fn both(o: &Output) -> String {
    format!("{}{}", text(&o.stdout), text(&o.stderr))
}

/// A work directory with `t.pkr.hcl` holding `template`.
pub fn project(template: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(d.path().join("t.pkr.hcl"), template).expect("the template is written");
    d
}

pub fn p(d: &tempfile::TempDir, name: &str) -> PathBuf {
    d.path().join(name)
}

/// True when nothing in `missing` is missing; else says what is and returns false, or fails
/// the test under `CI=true`.
pub fn require(missing: &[&str]) -> bool {
    if missing.is_empty() {
        return true;
    }
    let msg = format!("missing prerequisites: {}", missing.join(", "));
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg} (CI=true makes this a failure)");
    }
    eprintln!("skipping: {msg}");
    false
}

/// Whether this process runs as root (the owner of its own /proc entry).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
