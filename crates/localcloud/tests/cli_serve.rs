//! `cce-image-builder localcloud serve` as a process: the one ready line, consecutive ports
//! from a fixed `--listen`, given keys accepted, a clean stop on SIGTERM. Needs the binary built
//! (`make test` builds the workspace first); under `CI=true` a missing binary fails the test.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn binary() -> Option<PathBuf> {
    // target/debug/deps/cli_serve-… → target/debug/cce-image-builder
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("cce-image-builder");
    bin.exists().then_some(bin)
}

fn free_port_block() -> u16 {
    // Four consecutive free ports: bind the first, probe the next three.
    for _ in 0..50 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = l.local_addr().unwrap().port();
        drop(l);
        if base < 65000
            && (0..4).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok())
        {
            return base;
        }
    }
    panic!("no block of four free ports found");
}

#[test]
fn serve_prints_one_ready_line_and_stops_on_sigterm() {
    let Some(bin) = binary() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true and the cce-image-builder binary is not built");
        }
        eprintln!("skipping: cce-image-builder is not built (run `cargo build --workspace`)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let base = free_port_block();
    let mut child = Command::new(&bin)
        .args([
            "localcloud",
            "serve",
            "--listen",
            &format!("127.0.0.1:{base}"),
            "--state",
        ])
        .arg(dir.path())
        .args([
            "--access-key",
            "HPUAEXAMPLEAK0000001",
            "--secret-key",
            "ExampleSecretKey0123456789abcdefghijklmn",
        ])
        .args(["--profile", "realistic", "--scale", "0.001"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            panic!("no ready line within 20 s");
        }
    };
    let ready: serde_json::Value =
        serde_json::from_str(line.trim()).expect("the ready line is JSON");
    assert_eq!(ready["access_key"], "HPUAEXAMPLEAK0000001");
    assert_eq!(ready["region"], "ru-moscow-1");
    for (i, svc) in ["iam", "ecs", "ims", "vpc"].iter().enumerate() {
        assert_eq!(
            ready["endpoints"][svc],
            format!("http://127.0.0.1:{}", base + i as u16)
        );
    }
    assert!(ready["project_id"].as_str().is_some_and(|p| p.len() == 32));
    assert!(dir.path().join("state.json").exists());

    // A signed call through the process.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async {
        let url = format!(
            "{}/v3/projects",
            ready["endpoints"]["iam"].as_str().unwrap()
        );
        let host = url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let creds = cce_cloud::signer::Credentials {
            access_key: "HPUAEXAMPLEAK0000001".into(),
            secret_key: "ExampleSecretKey0123456789abcdefghijklmn".into(),
            security_token: None,
        };
        let mut headers = Vec::new();
        cce_cloud::signer::sign(
            &creds,
            "GET",
            &host,
            "/v3/projects",
            &[],
            &mut headers,
            b"",
            time::OffsetDateTime::now_utc(),
        );
        let mut req = reqwest::Client::new().get(&url);
        for (k, v) in &headers {
            if k != "Host" {
                req = req.header(k, v);
            }
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["projects"][0]["id"], ready["project_id"]);
        status
    });
    assert_eq!(status, 200);

    assert!(send_sigterm(child.id()), "SIGTERM was delivered");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the local cloud did not stop within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "exit status {code:?}");
}

/// Sends SIGTERM through the `kill` utility, to keep the test free of extra crates.
fn send_sigterm(pid: u32) -> bool {
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}
