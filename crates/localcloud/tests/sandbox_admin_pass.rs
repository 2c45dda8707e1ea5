//! A server made with `adminPass` and no keypair, as an API client of the real cloud makes one:
//! root logs in with that password through the real OpenSSH client (and not with another), the
//! password reaches the server through its `/run` only (the server's disk holds its hash, the
//! folder beside the disk holds it only until the next start), it still works after a stop and
//! start, and a password the cloud would refuse is refused naming the rule. Needs root (under
//! `CI=true` a missing prerequisite fails the test).

mod common;

use std::path::Path;
use std::time::Duration;

use cce_localcloud::Service;
use common::Client;
use common::sandbox::{
    SSH_CLIENT, default_network, fixed_ip, prerequisites, scratch_dir, server_body, ssh_with,
    start_sandboxed, wait_job, wait_status,
};
use serde_json::json;

const E: Service = Service::Ecs;
const PASSWORD: &str = "Cce-Node-Pass7";

/// `ssh root@addr cmd` with a password, given through OpenSSH's askpass hook.
fn ssh_password(dir: &Path, addr: &str, password: &str, cmd: &str) -> (i32, String) {
    use std::os::unix::fs::PermissionsExt as _;
    let askpass = dir.join("askpass.sh");
    std::fs::write(
        &askpass,
        format!("#!/bin/sh\nprintf '%s\\n' '{password}'\n"),
    )
    .unwrap();
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700)).unwrap();
    let opts: Vec<&std::ffi::OsStr> = [
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "PreferredAuthentications=password,keyboard-interactive",
        "-o",
        "NumberOfPasswordPrompts=1",
    ]
    .iter()
    .map(|o| o.as_ref())
    .collect();
    ssh_with(
        addr,
        &opts,
        &[
            ("SSH_ASKPASS", askpass.as_os_str()),
            ("SSH_ASKPASS_REQUIRE", "force".as_ref()),
        ],
        cmd,
    )
}

/// Whether `needle` is in any file under `dir`.
fn found_in(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                stack.push(p);
            } else if t.is_file()
                && std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
            {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_pass_lets_root_log_in_with_it() {
    if !prerequisites(&[SSH_CLIENT]) {
        return;
    }
    let dir = scratch_dir();
    let h = start_sandboxed(dir.path()).await;
    let c = Client::new(&h);
    let (subnet, gold) = default_network(&c, &h).await;

    for (bad, why) in [
        ("short1A", "use 8-26"),
        ("alllowercase1", "three of"),
        ("Root-Pass-123", "root"),
        ("Pass word-12", "not allowed"),
    ] {
        let r = c
            .post(
                &h,
                E,
                "/v1/{pid}/cloudservers",
                &server_body(&subnet, &gold, "pw-bad", json!({"adminPass": bad})),
            )
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        let msg = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains("server.adminPass") && msg.contains(why),
            "{bad}: {msg}"
        );
    }

    let a = c
        .post(
            &h,
            E,
            "/v1/{pid}/cloudservers",
            &server_body(&subnet, &gold, "pw-node", json!({"adminPass": PASSWORD})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let id = a.body["serverIds"][0].as_str().unwrap().to_string();
    let server = wait_status(&c, &h, &id, "ACTIVE", Duration::from_secs(180)).await;
    let ip = fixed_ip(&server);
    let scratch = dir.path().join("client");
    std::fs::create_dir_all(&scratch).unwrap();

    let (code, out) = ssh_password(
        &scratch,
        &ip,
        PASSWORD,
        "hostname && test ! -e /run/cce-instance/admin-pass && echo gone",
    );
    assert_eq!((code, out.as_str()), (0, "pw-node\ngone"), "{out}");
    let (code, out) = ssh_password(&scratch, &ip, "Wrong-Pass-42", "true");
    assert_ne!(code, 0, "a wrong password logged in: {out}");

    let server_dir = dir.path().join("servers").join(&id);
    let on_disk = found_in(&server_dir.join("upper"), PASSWORD.as_bytes());
    assert!(
        on_disk.is_empty(),
        "the password is on the server's disk: {on_disk:?}"
    );

    // Stop and start: the password stays set; the copy beside the disk is gone.
    let stop = c
        .post(
            &h,
            E,
            "/v1/{pid}/cloudservers/action",
            &json!({"os-stop": {"servers": [{"id": id}]}}),
        )
        .await;
    wait_job(
        &c,
        &h,
        E,
        stop.body["job_id"].as_str().unwrap(),
        Duration::from_secs(60),
    )
    .await;
    let start = c
        .post(
            &h,
            E,
            "/v1/{pid}/cloudservers/action",
            &json!({"os-start": {"servers": [{"id": id}]}}),
        )
        .await;
    wait_job(
        &c,
        &h,
        E,
        start.body["job_id"].as_str().unwrap(),
        Duration::from_secs(120),
    )
    .await;
    wait_status(&c, &h, &id, "ACTIVE", Duration::from_secs(60)).await;
    let (code, out) = ssh_password(&scratch, &ip, PASSWORD, "hostname");
    assert_eq!((code, out.as_str()), (0, "pw-node"), "{out}");
    let anywhere = found_in(&server_dir, PASSWORD.as_bytes());
    assert!(
        anywhere.is_empty(),
        "the password is still kept on the host: {anywhere:?}"
    );

    let d = c
        .post(
            &h,
            E,
            "/v1/{pid}/cloudservers/delete",
            &json!({"servers": [{"id": id}]}),
        )
        .await;
    wait_job(
        &c,
        &h,
        E,
        d.body["job_id"].as_str().unwrap(),
        Duration::from_secs(60),
    )
    .await;
    h.shutdown().await;
}
