//! `cce-image-builder localcloud serve` as a process: the one ready line, consecutive ports
//! from a fixed `--listen`, given keys accepted, a clean stop on SIGTERM. Needs the binary built
//! (`make test` builds the workspace first); under `CI=true` a missing binary fails the test.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::serve::{read_ready_line, require_binary, stop_with_sigterm};

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
    let Some(bin) = require_binary() else { return };
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
    let ready = read_ready_line(&mut child);
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
        let creds = cce_cloud::signer::Credentials {
            access_key: "HPUAEXAMPLEAK0000001".into(),
            secret_key: "ExampleSecretKey0123456789abcdefghijklmn".into(),
            security_token: None,
        };
        let base = ready["endpoints"]["iam"].as_str().unwrap();
        let req = common::signed_request(&creds, base, "GET", "/v3/projects", b"");
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["projects"][0]["id"], ready["project_id"]);
        status
    });
    assert_eq!(status, 200);

    stop_with_sigterm(&mut child, Duration::from_secs(10));
}
