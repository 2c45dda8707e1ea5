//! Compares the library with real Packer: every expression of `testdata/packer_parity.txt` is
//! wrapped in `jsonencode(...)` and evaluated both by `packer console` and by hcl-rs with
//! `declare_all`; the JSON texts must be equal, or both sides must fail with the same message
//! (headers, `Call to function` prefix, capital and final period aside). Functions the installed
//! Packer does not have are reported and skipped.

use std::process::{Command, Stdio};

use hcl::Value;

const EXPRESSIONS: &str = include_str!("testdata/packer_parity.txt");
const MARKER: &str = "@@END@@";

/// Expressions both sides refuse with different words, on purpose: arity is reported by this
/// library rather than by HCL, a `${...}` inside a string is the evaluator's business, 1.6.6
/// panics or misreports on some inputs later cty fixed, date/YAML parse errors come from
/// different parsers, and infinities (which cty holds but cannot encode) are refused on input.
const KNOWN_MESSAGE_DIFFERENCES: &[&str] = &[
    "lookup({a = 1}, \"z\")",
    "range(1, 2, 3, 4)",
    "range(1, 4, 0)",
    "regex_replace(\"abc\", \"(?P<first>a)\", \"${first}${first}\")",
    "pow(-8, 0.5)",
    "yamldecode(\"a: b\\n---\\nc: d\\n\")",
    "formatdate(\"DD\", \"2024-13-01T00:00:00Z\")",
    "cidrhost(\"10.0.0.0/8\", -16777217)",
    "cidrsubnet(\"2001:db8::/32\", 97, 1)",
    "yamldecode(\".inf\")",
    "abs(\"Inf\")",
    "yamldecode(\"a: [1, 2\")",
];

enum PackerResult {
    Value(String),
    Error(String),
    UnknownFunction,
}

fn packer_available() -> bool {
    Command::new("packer")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run_packer(exprs: &[&str]) -> Vec<PackerResult> {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        dir.path().join("parity.pkr.hcl"),
        "source \"null\" \"x\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"source.null.x\"]\n}\n",
    )
    .expect("template written");
    let mut input = String::new();
    for e in exprs {
        input.push_str(&format!("jsonencode({e})\n\"{MARKER}\"\n"));
    }
    let in_path = dir.path().join("console.in");
    std::fs::write(&in_path, &input).expect("input file written");
    // one file for both streams keeps errors and markers in the order packer wrote them
    let out_path = dir.path().join("console.out");
    let out_file = std::fs::File::create(&out_path).expect("output file");
    let mut child = Command::new("packer")
        .args(["console", "parity.pkr.hcl"])
        .current_dir(dir.path())
        .env("CHECKPOINT_DISABLE", "1")
        // packer console prints only the last value when stdin is a pipe; a file works
        .stdin(std::fs::File::open(&in_path).expect("input file"))
        .stdout(out_file.try_clone().expect("output file handle"))
        .stderr(out_file)
        .spawn()
        .expect("packer console starts");
    let status = wait_with_timeout(&mut child, std::time::Duration::from_secs(60));
    assert!(status.is_some(), "packer console did not finish within 60s");
    let text = std::fs::read_to_string(&out_path).expect("packer output readable");
    let chunks: Vec<&str> = text.split(MARKER).collect();
    assert!(
        chunks.len() > exprs.len(),
        "packer console answered {} of {} expressions:\n{text}",
        chunks.len() - 1,
        exprs.len()
    );
    chunks[..exprs.len()]
        .iter()
        .map(|chunk| {
            let chunk = chunk.trim();
            if chunk.contains("There is no function named") {
                PackerResult::UnknownFunction
            } else if chunk.starts_with("Error") || chunk.contains("\nError") {
                PackerResult::Error(chunk.to_string())
            } else {
                PackerResult::Value(chunk.to_string())
            }
        })
        .collect()
}

fn wait_with_timeout(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> Option<std::process::ExitStatus> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn run_ours(expr: &str) -> Result<String, String> {
    let mut ctx = hcl::eval::Context::new();
    super::declare_all(&mut ctx);
    let body: Value = hcl::eval::from_str(&format!("v = jsonencode({expr})\n"), &ctx)
        .map_err(|e| e.to_string())?;
    match body.as_object().and_then(|o| o.get("v")) {
        Some(Value::String(s)) => Ok(s.clone()),
        other => Err(format!("unexpected result {other:?}")),
    }
}

/// False (the test should return) when packer is missing outside CI; fails under `CI=true`.
fn require_packer() -> bool {
    if packer_available() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "packer is required under CI=true (installed by dev/deps.sh)"
    );
    eprintln!("skipping: packer is not installed");
    false
}

#[test]
fn results_match_packer_console() {
    if !require_packer() {
        return;
    }
    let exprs: Vec<&str> = EXPRESSIONS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    compare(&exprs);
}

/// Filesystem functions over a fixture tree, with absolute paths so both sides read the same
/// files whatever their working directory.
#[test]
fn filesystem_results_match_packer_console() {
    if !require_packer() {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path().display().to_string();
    for (name, content) in [
        ("a.txt", &b"Hello"[..]),
        ("b.md", b"x\n"),
        ("bin", b"\xff\x00"),
        ("sub/c.txt", b"y\n"),
        ("sub/deep/d.txt", b"z\n"),
    ] {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("fixture has a parent")).expect("fixture dir");
        std::fs::write(path, content).expect("fixture written");
    }
    let exprs: Vec<String> = [
        "file(\"R/a.txt\")",
        "file(\"R/missing\")",
        "file(\"R/bin\")",
        "fileexists(\"R/a.txt\")",
        "fileexists(\"R/nope\")",
        "fileexists(\"R/sub\")",
        "fileset(\"R\", \"**/*.txt\")",
        "fileset(\"R\", \"*\")",
        "fileset(\"R\", \"{a,b}.*\")",
        "fileset(\"R\", \"sub/**\")",
        "fileset(\"R\", \"[ab].*\")",
        "fileset(\"R\", \"**\")",
        "fileset(\"R/sub\", \"*/?.txt\")",
        "fileset(\"R/none\", \"*\")",
        "filebase64(\"R/bin\")",
        "abspath(\"R/sub/../a.txt\")",
        "basename(\"R/sub/\")",
        "dirname(\"R/sub/c.txt\")",
        "pathexpand(\"~/x\")",
    ]
    .iter()
    .map(|e| e.replace('R', &root))
    .collect();
    let exprs: Vec<&str> = exprs.iter().map(String::as_str).collect();
    compare(&exprs);
}

fn compare(exprs: &[&str]) {
    let packer = run_packer(exprs);
    let mut mismatches = Vec::new();
    let mut skipped = Vec::new();
    let mut compared = 0;
    let mut message_diffs = Vec::new();
    for (expr, theirs) in exprs.iter().zip(packer) {
        let ours = run_ours(expr);
        match (theirs, ours) {
            (PackerResult::UnknownFunction, _) => skipped.push(*expr),
            (PackerResult::Value(t), Ok(o)) if t == o => compared += 1,
            (PackerResult::Error(t), Err(o)) => {
                compared += 1;
                let (t, o) = (packer_message(&t), our_message(&o));
                if t != o && !KNOWN_MESSAGE_DIFFERENCES.contains(expr) {
                    message_diffs.push(format!("{expr}\n  packer: {t}\n  ours:   {o}"));
                }
            }
            (PackerResult::Value(t), o) => mismatches.push(format!("{expr}\n  packer: {t}\n  ours:   {o:?}")),
            (PackerResult::Error(t), Ok(o)) => {
                mismatches.push(format!("{expr}\n  packer failed: {}\n  ours:   {o}", t.replace('\n', " ")))
            }
        }
    }
    eprintln!(
        "compared {compared} expressions with packer; skipped {} the installed packer lacks: {skipped:?}",
        skipped.len()
    );
    assert!(compared > exprs.len() / 2, "too few expressions compared: {compared} of {}", exprs.len());
    assert!(mismatches.is_empty(), "{} differences from packer:\n{}", mismatches.len(), mismatches.join("\n"));
    assert!(
        message_diffs.is_empty(),
        "{} error messages differ from packer's:\n{}",
        message_diffs.len(),
        message_diffs.join("\n")
    );
}

/// The message of a packer console error, without its headers, prefix and final period.
fn packer_message(chunk: &str) -> String {
    let body: Vec<&str> = chunk
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with("Error:")
                && !l.starts_with("on <console-input>")
                && !l.starts_with("(source code not available)")
        })
        .collect();
    let text = body.join(" ");
    let text = match text.find(" failed: ") {
        Some(i) if text.starts_with("Call to function") => text[i + " failed: ".len()..].to_string(),
        _ => text,
    };
    lower_first(text.trim_end_matches('.'))
}

/// The message of a library error inside hcl-rs's evaluation error.
fn our_message(err: &str) -> String {
    let text = match err.find("`: ") {
        Some(i) => &err[i + 3..],
        None => err,
    };
    let text = match text.rfind(" in expression `") {
        Some(i) => &text[..i],
        None => text,
    };
    lower_first(text)
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
