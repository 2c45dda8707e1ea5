//! Compares the library with real Packer: every expression of `testdata/packer_parity.txt` is
//! wrapped in `jsonencode(...)` and evaluated both by `packer console` and by hcl-rs with
//! `declare_all`; the JSON texts must be equal, or both sides must fail. Functions the installed
//! Packer does not have are reported and skipped.

use std::process::{Command, Stdio};

use hcl::Value;

const EXPRESSIONS: &str = include_str!("testdata/packer_parity.txt");
const MARKER: &str = "@@END@@";

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

#[test]
fn results_match_packer_console() {
    if !packer_available() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "packer is required under CI=true (installed by dev/deps.sh)"
        );
        eprintln!("skipping: packer is not installed");
        return;
    }
    let exprs: Vec<&str> = EXPRESSIONS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let packer = run_packer(&exprs);
    let mut mismatches = Vec::new();
    let mut skipped = Vec::new();
    let mut compared = 0;
    for (expr, theirs) in exprs.iter().zip(packer) {
        let ours = run_ours(expr);
        match (theirs, ours) {
            (PackerResult::UnknownFunction, _) => skipped.push(*expr),
            (PackerResult::Value(t), Ok(o)) if t == o => compared += 1,
            (PackerResult::Error(_), Err(_)) => compared += 1,
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
    assert!(compared > exprs.len() / 2, "too few expressions compared: {compared}");
    assert!(mismatches.is_empty(), "{} differences from packer:\n{}", mismatches.len(), mismatches.join("\n"));
}
