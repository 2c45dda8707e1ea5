//! The formatter against the corpus in `tests/fmt-corpus/`: every input formats to its golden
//! byte for byte, the goldens still are what the real `packer fmt` produces, `packer fmt -check`
//! agrees on which inputs are not canonical, and formatting is idempotent on the corpus and on
//! every `*.pkr.hcl` of the repository.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use cce_template::fmt::{format, format_unchecked};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus_dir() -> PathBuf {
    repo_root().join("tests/fmt-corpus")
}

/// The corpus inputs (`*.pkr.hcl`), sorted by name.
fn corpus_inputs() -> Vec<PathBuf> {
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("the corpus folder exists")
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".pkr.hcl"))
        .collect();
    inputs.sort();
    inputs
}

fn golden_of(input: &Path) -> Vec<u8> {
    let golden = PathBuf::from(format!("{}.golden", input.display()));
    std::fs::read(&golden).unwrap_or_else(|e| panic!("{}: {e}", golden.display()))
}

fn name(p: &Path) -> String {
    p.file_name().expect("file name").to_string_lossy().into_owned()
}

/// `packer` on PATH, or `None` (a skip) outside CI; under `CI=true` a missing packer fails.
fn packer() -> Option<&'static str> {
    let found = Command::new("packer").arg("version").output().is_ok_and(|o| o.status.success());
    if found {
        return Some("packer");
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("packer is not on PATH: the live comparison with `packer fmt` cannot run (run dev/deps.sh)");
    }
    eprintln!("skipping: packer is not on PATH");
    None
}

#[test]
fn corpus_is_large_and_mostly_non_canonical() {
    let inputs = corpus_inputs();
    assert!(inputs.len() >= 36, "the corpus has only {} inputs", inputs.len());
    let non_canonical = inputs.iter().filter(|p| std::fs::read(p).unwrap() != golden_of(p)).count();
    assert!(non_canonical >= 20, "only {non_canonical} inputs are not canonical");
    assert!(non_canonical * 2 >= inputs.len(), "less than half the corpus is non-canonical");
}

#[test]
fn every_input_formats_to_its_golden() {
    let mut failures = Vec::new();
    for input in corpus_inputs() {
        let src = std::fs::read(&input).unwrap();
        let golden = golden_of(&input);
        match format(&src) {
            Ok(out) if out == golden => {}
            Ok(out) => failures.push(format!(
                "{}:\n--- expected\n{}\n--- got\n{}",
                name(&input),
                String::from_utf8_lossy(&golden),
                String::from_utf8_lossy(&out)
            )),
            Err(e) => failures.push(format!("{}: {e}", name(&input))),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn formatting_is_idempotent_on_the_corpus() {
    for input in corpus_inputs() {
        let once = format(&std::fs::read(&input).unwrap()).unwrap();
        let twice = format(&once).unwrap();
        assert_eq!(String::from_utf8_lossy(&once), String::from_utf8_lossy(&twice), "{}", name(&input));
        let golden = golden_of(&input);
        assert_eq!(format(&golden).unwrap(), golden, "the golden of {} is not stable", name(&input));
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            if file_name != "target" && !file_name.starts_with('.') {
                walk(&path, out);
            }
        } else if file_name.ends_with(".pkr.hcl") {
            out.push(path);
        }
    }
}

#[test]
fn formatting_is_idempotent_on_every_template_of_the_repository() {
    let mut files = Vec::new();
    walk(&repo_root(), &mut files);
    assert!(!files.is_empty(), "no *.pkr.hcl found under {}", repo_root().display());
    for file in files {
        let src = std::fs::read(&file).unwrap();
        // A template kept deliberately broken (a fixture for syntax errors) is not formatted.
        let Ok(once) = format(&src) else { continue };
        let twice = format(&once).unwrap_or_else(|e| panic!("{}: formatted output no longer parses: {e}", file.display()));
        assert_eq!(String::from_utf8_lossy(&once), String::from_utf8_lossy(&twice), "{}", file.display());
    }
}

/// Copies the corpus inputs to a scratch folder under their own names.
fn scratch_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for input in corpus_inputs() {
        std::fs::copy(&input, dir.path().join(name(&input))).unwrap();
    }
    dir
}

#[test]
fn goldens_match_live_packer_fmt() {
    let Some(packer) = packer() else { return };
    let dir = scratch_copy();
    let out = Command::new(packer).arg("fmt").arg(".").current_dir(dir.path()).output().unwrap();
    assert!(out.status.success(), "packer fmt failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut stale = Vec::new();
    for input in corpus_inputs() {
        let by_packer = std::fs::read(dir.path().join(name(&input))).unwrap();
        if by_packer != golden_of(&input) {
            stale.push(name(&input));
        }
    }
    assert!(stale.is_empty(), "goldens differ from packer fmt (run tests/fmt-corpus/regenerate.sh): {stale:?}");
}

#[test]
fn packer_check_flags_exactly_the_non_canonical_inputs() {
    let Some(packer) = packer() else { return };
    let dir = scratch_copy();
    let out = Command::new(packer).args(["fmt", "-check", "."]).current_dir(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "packer fmt -check: {}", String::from_utf8_lossy(&out.stderr));
    let listed: BTreeSet<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    let expected: BTreeSet<String> = corpus_inputs()
        .iter()
        .filter(|p| std::fs::read(p).unwrap() != golden_of(p))
        .map(|p| name(p))
        .collect();
    assert_eq!(listed, expected);
    assert!(expected.len() * 2 >= corpus_inputs().len());
    // The canonical files pass the check on their own.
    for input in corpus_inputs().iter().filter(|p| !expected.contains(&name(p))) {
        let status = Command::new(packer).args(["fmt", "-check"]).arg(input).status().unwrap();
        assert_eq!(status.code(), Some(0), "{}", name(input));
    }
}

#[test]
fn syntax_errors_name_line_and_column() {
    let cases: [(&str, usize, usize); 9] = [
        ("x {\n  a = f(1\n}\n", 3, 1),
        ("a = [1)\n", 1, 7),
        ("a = f(<<EOT\nx\nEOT # not the end\n, 1)\n", 1, 7),
        ("a = 1\nb = <<EOT\nx\nEOT", 2, 5),
        ("a = \"x${1}", 1, 5),
        ("a = 1\nb = \"open\n", 2, 5),
        ("a = 1\n  c = 2 $\n", 2, 9),
        ("x {\n  a = [1, 2\n", 0, 0),
        ("/* never closed\n", 1, 1),
    ];
    for (src, line, column) in cases {
        let err = format(src.as_bytes()).expect_err(src);
        let cce_template::fmt::FormatError::Syntax { line: l, column: c, message } = err;
        assert!(!message.is_empty());
        if line > 0 {
            assert_eq!((l, c), (line, column), "{src:?}: {message}");
        } else {
            assert!(l >= 2, "{src:?}: reported line {l}");
        }
    }
}

#[test]
fn unchecked_formatting_keeps_every_non_space_byte() {
    let src = "a {\nb=[1,\n2]\n  c = \"${ x }\"\n}\n";
    let out = format_unchecked(src.as_bytes());
    let strip = |s: &[u8]| s.iter().filter(|b| !b.is_ascii_whitespace()).copied().collect::<Vec<_>>();
    assert_eq!(strip(&out), strip(src.as_bytes()));
    assert_eq!(String::from_utf8_lossy(&out), "a {\n  b = [1,\n  2]\n  c = \"${x}\"\n}\n");
}
