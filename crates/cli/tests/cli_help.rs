//! Snapshot tests of `--help`: the commands, flags and exit codes users read are reviewed in
//! `tests/snapshots/*.txt` whenever they change. `UPDATE_SNAPSHOTS=1 cargo test --test
//! cli_help` rewrites the snapshots after an intended change.

use std::path::Path;
use std::process::Command;

fn check(args: &[&str], snapshot: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_cce-image-builder"))
        .args(args)
        .env("COLUMNS", "100")
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8 help");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(snapshot);
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &text).expect("write the snapshot");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_SNAPSHOTS=1 to create it", path.display()));
    assert_eq!(text, want, "`{}` changed; review and run with UPDATE_SNAPSHOTS=1", args.join(" "));
}

#[test]
fn top_level_help() {
    check(&["--help"], "help.txt");
}

#[test]
fn build_help() {
    check(&["build", "--help"], "build-help.txt");
}

#[test]
fn cleanup_help() {
    check(&["cleanup", "--help"], "cleanup-help.txt");
}

#[test]
fn help_names_every_exit_code_of_a_build() {
    let out = Command::new(env!("CARGO_BIN_EXE_cce-image-builder"))
        .args(["build", "-help"])
        .output()
        .expect("the binary runs");
    let text = String::from_utf8_lossy(&out.stdout);
    for code in ["0 every build succeeded", "1 a build failed", "130", "143"] {
        assert!(text.contains(code), "{code} missing from:\n{text}");
    }
}
