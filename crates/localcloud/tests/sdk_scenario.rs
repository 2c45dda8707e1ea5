//! Holds the local cloud to the official Huawei Cloud Python SDK: starts a local cloud, runs
//! `tests/sdk/scenario.py` (the SDK's own clients, models and signing) against it, restarts the
//! cloud on the same state and runs the scenario's second phase. The venv is `$CCE_VENV`, else
//! `<repo>/.venv`; under `CI=true` a missing venv or SDK fails the test, otherwise it is skipped.

mod common;

use common::sdk::{repo_root, sdk_python};

use std::path::PathBuf;
use std::time::Duration;

use cce_localcloud::Config;


/// Runs one phase with a deadline, failing with the script's output.
async fn run_phase(python: &PathBuf, phase: &str, ready: &str, out: &std::path::Path) {
    let script = repo_root().join("tests").join("sdk").join("scenario.py");
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(&script)
        .arg(phase)
        .arg(ready)
        .arg(out)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("sdk scenario `{phase}` did not finish within 180 s"))
        .expect("the scenario starts");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "sdk scenario `{phase}` failed:\n{text}"
    );
    assert!(
        text.contains(&format!("sdk scenario {phase}: ok")),
        "unexpected output:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_drives_the_local_cloud() {
    let python = match sdk_python() {
        Ok(p) => p,
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true and the SDK prerequisite is missing: {why}")
        }
        Err(why) => {
            eprintln!("skipping the official SDK scenario: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("phase1.json");
    let h = common::start_with(Config::new(dir.path().join("state"))).await;
    run_phase(&python, "build", &h.ready_line(), &out).await;
    h.shutdown().await;

    let h = common::start_with(Config::new(dir.path().join("state"))).await;
    run_phase(&python, "reload", &h.ready_line(), &out).await;
    h.shutdown().await;
}
