//! `cce-image-builder fmt` end to end: exit codes, the names it prints, `-check`, `-diff`,
//! `-write=false`, standard input, `-recursive`, syntax errors; and, where `packer` is on PATH,
//! the same output as `packer fmt` 1.6.6 for the flags both have.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_cce-image-builder");

const MESSY: &str = "a=1\nbb = \"x\"\n";
const MESSY_FORMATTED: &str = "a  = 1\nbb = \"x\"\n";
const CANONICAL: &str = "a = 1\n";

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN).arg("fmt").args(args).current_dir(dir).stdin(Stdio::null()).output().unwrap()
}

fn run_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(BIN)
        .arg("fmt")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A folder with one messy and one canonical template, a messy variables file, a messy hidden
/// template, a messy template in a subfolder and in a hidden subfolder, and a file that is not
/// a template.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("messy.pkr.hcl"), MESSY).unwrap();
    std::fs::write(p.join("ok.pkr.hcl"), CANONICAL).unwrap();
    std::fs::write(p.join("vars.pkrvars.hcl"), "v=1\n").unwrap();
    std::fs::write(p.join("other.hcl"), "y=1\n").unwrap();
    std::fs::write(p.join(".hidden.pkr.hcl"), "h=1\n").unwrap();
    std::fs::create_dir(p.join("sub")).unwrap();
    std::fs::create_dir(p.join(".git")).unwrap();
    std::fs::write(p.join(".git/in-git.pkr.hcl"), "g=1\n").unwrap();
    std::fs::write(p.join("sub/inner.pkr.hcl"), "x=1\n").unwrap();
    dir
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

#[test]
fn default_writes_changed_files_and_prints_their_names() {
    let dir = fixture();
    let out = run(dir.path(), &["."]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout(&out), ".hidden.pkr.hcl\nmessy.pkr.hcl\nvars.pkrvars.hcl\n");
    assert_eq!(read(dir.path(), "messy.pkr.hcl"), MESSY_FORMATTED);
    assert_eq!(read(dir.path(), "vars.pkrvars.hcl"), "v = 1\n");
    assert_eq!(read(dir.path(), ".hidden.pkr.hcl"), "h = 1\n");
    // Not a template, or in a subfolder without -recursive: untouched.
    assert_eq!(read(dir.path(), "other.hcl"), "y=1\n");
    assert_eq!(read(dir.path(), "sub/inner.pkr.hcl"), "x=1\n");
    // A second run finds nothing left to do.
    let again = run(dir.path(), &["."]);
    assert_eq!((again.status.code(), stdout(&again)), (Some(0), String::new()));
}

#[test]
fn check_exits_3_lists_files_and_writes_nothing() {
    let dir = fixture();
    let out = run(dir.path(), &["-check", "."]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), ".hidden.pkr.hcl\nmessy.pkr.hcl\nvars.pkrvars.hcl\n");
    assert_eq!(read(dir.path(), "messy.pkr.hcl"), MESSY);
    let ok = run(dir.path(), &["-check", "ok.pkr.hcl"]);
    assert_eq!((ok.status.code(), stdout(&ok)), (Some(0), String::new()));
    // The double-dash spelling works too.
    assert_eq!(run(dir.path(), &["--check", "messy.pkr.hcl"]).status.code(), Some(3));
}

#[test]
fn diff_prints_a_unified_diff_after_the_name() {
    let dir = fixture();
    let out = run(dir.path(), &["-diff", "-write=false", "messy.pkr.hcl"]);
    assert_eq!(out.status.code(), Some(0));
    let expected = "messy.pkr.hcl\n--- old/messy.pkr.hcl\n+++ new/messy.pkr.hcl\n@@ -1,2 +1,2 @@\n-a=1\n+a  = 1\n bb = \"x\"\n";
    assert_eq!(stdout(&out), expected);
    assert_eq!(read(dir.path(), "messy.pkr.hcl"), MESSY);
}

#[test]
fn write_false_only_reports() {
    let dir = fixture();
    for flags in [&["-write=false"][..], &["--write=false"][..]] {
        let mut args = flags.to_vec();
        args.push(".");
        let out = run(dir.path(), &args);
        assert_eq!(out.status.code(), Some(0), "{flags:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(stdout(&out), ".hidden.pkr.hcl\nmessy.pkr.hcl\nvars.pkrvars.hcl\n", "{flags:?}");
        assert_eq!(read(dir.path(), "messy.pkr.hcl"), MESSY, "{flags:?}");
    }
    // A bare -write means true, and takes no separate value (as a Go boolean flag).
    let out = run(dir.path(), &["-write", "messy.pkr.hcl"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(read(dir.path(), "messy.pkr.hcl"), MESSY_FORMATTED);
}

#[test]
fn recursive_descends_into_subfolders() {
    let dir = fixture();
    let out = run(dir.path(), &["-recursive", "-check", "."]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), ".hidden.pkr.hcl\nmessy.pkr.hcl\nsub/inner.pkr.hcl\nvars.pkrvars.hcl\n");
    let out = run(dir.path(), &["-recursive", "."]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(read(dir.path(), "sub/inner.pkr.hcl"), "x = 1\n");
    // Hidden folders such as .git are not entered.
    assert_eq!(read(dir.path(), ".git/in-git.pkr.hcl"), "g=1\n");
}

#[test]
fn stdin_is_formatted_to_stdout() {
    let out = run_stdin(&["-"], MESSY);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), MESSY_FORMATTED);
    // No path and standard input not a terminal: read it.
    let out = run_stdin(&[], MESSY);
    assert_eq!((out.status.code(), stdout(&out)), (Some(0), MESSY_FORMATTED.to_string()));
    let out = run_stdin(&["-check", "-"], MESSY);
    assert_eq!((out.status.code(), stdout(&out)), (Some(3), String::new()));
    let out = run_stdin(&["-check", "-"], CANONICAL);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn syntax_errors_exit_1_with_file_line_column() {
    let dir = fixture();
    std::fs::write(dir.path().join("bad.pkr.hcl"), "a = 1\nb = \"open\n").unwrap();
    let out = run(dir.path(), &["bad.pkr.hcl"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.pkr.hcl:2:5: unterminated string"), "{err}");
    assert_eq!(read(dir.path(), "bad.pkr.hcl"), "a = 1\nb = \"open\n");
    // The other files of a folder are still formatted.
    let out = run(dir.path(), &["."]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(read(dir.path(), "messy.pkr.hcl"), MESSY_FORMATTED);
}

#[test]
fn bad_paths_and_flags_have_their_own_exit_codes() {
    let dir = fixture();
    let missing = run(dir.path(), &["nope.pkr.hcl"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope.pkr.hcl"));
    let not_template = run(dir.path(), &["other.hcl"]);
    assert_eq!(not_template.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&not_template.stderr).contains("not a template"));
    assert_eq!(run(dir.path(), &["-no-such-flag", "."]).status.code(), Some(2));
    assert_eq!(run(dir.path(), &["-write=maybe", "."]).status.code(), Some(2));
}

/// `packer` on PATH, or a skip outside CI; under `CI=true` a missing packer fails.
fn packer_available() -> bool {
    if Command::new("packer").arg("version").output().is_ok_and(|o| o.status.success()) {
        return true;
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "packer is not on PATH (run dev/deps.sh)");
    eprintln!("skipping: packer is not on PATH");
    false
}

#[test]
fn same_names_diffs_and_exit_codes_as_packer() {
    if !packer_available() {
        return;
    }
    let cases: [&[&str]; 8] = [
        &["-check", "."],
        &["-check", "-diff", "."],
        &["-diff", "-write=false", "."],
        &["-diff", "."],
        &["-write=false", "."],
        &["."],
        &["messy.pkr.hcl"],
        &["-check", "ok.pkr.hcl"],
    ];
    for args in cases {
        let ours_dir = fixture();
        let theirs_dir = fixture();
        let ours = run(ours_dir.path(), args);
        let theirs = Command::new("packer").arg("fmt").args(args).current_dir(theirs_dir.path()).output().unwrap();
        assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
        assert_eq!(stdout(&ours), stdout(&theirs), "{args:?}");
        for name in [".hidden.pkr.hcl", "messy.pkr.hcl", "vars.pkrvars.hcl", "ok.pkr.hcl"] {
            assert_eq!(read(ours_dir.path(), name), read(theirs_dir.path(), name), "{args:?} {name}");
        }
    }
}

#[test]
fn syntax_errors_fail_like_packer() {
    if !packer_available() {
        return;
    }
    let dir = fixture();
    std::fs::write(dir.path().join("bad.pkr.hcl"), "x {\n  a = [1, 2\n}\n").unwrap();
    let ours = run(dir.path(), &["-check", "bad.pkr.hcl"]);
    let theirs = Command::new("packer").args(["fmt", "-check", "bad.pkr.hcl"]).current_dir(dir.path()).output().unwrap();
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(ours.status.code(), Some(1));
    let err = String::from_utf8_lossy(&ours.stderr);
    assert!(err.contains("bad.pkr.hcl:3:1:"), "{err}");
}
