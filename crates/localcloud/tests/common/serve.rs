//! The `cce-image-builder localcloud serve` process of the command-line tests: finding the
//! built binary, reading its one ready line and stopping it with SIGTERM.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The workspace's built binary, next to the test's `deps` folder, if it is built.
pub fn binary() -> Option<PathBuf> {
    // target/debug/deps/<test>-… → target/debug/cce-image-builder
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("cce-image-builder");
    bin.exists().then_some(bin)
}

/// The binary, or none (after saying why) when it is not built; under `CI=true` its absence
/// fails the test.
pub fn require_binary() -> Option<PathBuf> {
    let bin = binary();
    if bin.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true and the cce-image-builder binary is not built");
        }
        eprintln!("skipping: cce-image-builder is not built (run `cargo build --workspace`)");
    }
    bin
}

/// The ready line `child` prints on its piped stdout, as JSON; kills it when none comes
/// within 20 s.
pub fn read_ready_line(child: &mut Child) -> serde_json::Value {
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) else {
        let _ = child.kill();
        panic!("no ready line within 20 s");
    };
    serde_json::from_str(line.trim()).expect("the ready line is JSON")
}

/// Sends SIGTERM through the `kill` utility (no extra crate) and checks that `child` exits 0
/// within `within`; kills it otherwise.
pub fn stop_with_sigterm(child: &mut Child, within: Duration) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(sent, "SIGTERM was delivered");
    let deadline = Instant::now() + within;
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "the local cloud did not stop within {} s of SIGTERM",
                within.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "exit status {code:?}");
}
