//! The package proxy of local-cloud servers through the API: a server whose allow-list names a
//! test origin on a host loopback address fetches from it in its user data (a systemd service)
//! and over SSH, is refused another host with 403 and cannot reach the origin directly; the
//! image captured from it holds what it fetched but none of the proxy settings. A local cloud
//! with the proxy off gives its servers no listener. Needs root (under `CI=true` a missing
//! prerequisite fails the test).

mod common;
#[path = "../../sandbox/tests/common/origin.rs"]
mod origin;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use cce_localcloud::{
    Config, LocalCloud, LocalCloudHandle, SandboxBackend, SandboxConfig, Service,
};
use common::Client;
use origin::{HELLO, hello_origin};
use common::sandbox::{
    SSH_CLIENT, default_network, fixed_ip, keypair_file, scratch_dir, server_body, ssh, ssh_ok,
    wait_job, wait_status,
};
use serde_json::json;

const E: Service = Service::Ecs;
const M: Service = Service::Ims;

fn prerequisites() -> bool {
    common::sandbox::prerequisites(&[SSH_CLIENT])
}

fn base64(data: &str) -> String {
    let mut child = Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("base64 runs");
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(data.as_bytes())
            .unwrap();
    }
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
}

/// A local cloud on `dir` with sandbox servers whose package proxy admits `allow` (`None`: off).
async fn cloud(dir: &std::path::Path, allow: Option<&str>) -> (LocalCloudHandle, Client) {
    let mut sandboxes = SandboxConfig::new(dir, |k| std::env::var(k).ok());
    sandboxes.package_proxy = allow.map(|a| cce_sandbox::AllowList::parse(a).unwrap());
    let backend = SandboxBackend::new(sandboxes, tokio::runtime::Handle::current());
    let h = LocalCloud::start_with_backend(Config::new(dir), Arc::new(backend))
        .await
        .expect("local cloud starts");
    let c = Client::new(&h);
    (h, c)
}

/// A keypair (its private key written under `dir`) and a server from the public image.
async fn server(
    c: &Client,
    h: &LocalCloudHandle,
    dir: &std::path::Path,
    user_data: Option<String>,
) -> (String, std::path::PathBuf, String) {
    let key = keypair_file(c, h, "kp-proxy", dir).await;
    let (subnet, image) = default_network(c, h).await;
    let mut body = server_body(
        &subnet,
        &image,
        "proxy-server",
        json!({"key_name": "kp-proxy"}),
    );
    if let Some(u) = user_data {
        body["server"]["user_data"] = json!(base64(&u));
    }
    let a = c
        .call(h, E, "POST", "/v1/{pid}/cloudservers", &[], Some(&body))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let id = a.body["serverIds"][0].as_str().unwrap().to_string();
    let server = wait_status(c, h, &id, "ACTIVE", Duration::from_secs(180)).await;
    (id, key, fixed_ip(&server))
}

/// Deletes server `id` and waits for its job.
async fn delete_server(c: &Client, h: &LocalCloudHandle, id: &str) {
    let d = c
        .call(
            h,
            E,
            "POST",
            "/v1/{pid}/cloudservers/delete",
            &[],
            Some(&json!({"servers": [{"id": id}]})),
        )
        .await;
    assert_eq!(d.status, 200, "{}", d.body);
    wait_job(
        c,
        h,
        E,
        d.body["job_id"].as_str().unwrap(),
        Duration::from_secs(60),
    )
    .await;
}

fn settings_paths() -> Vec<&'static str> {
    cce_sandbox::proxy::settings_files(cce_sandbox::SANDBOX_PROXY_PORT)
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_install_through_the_package_proxy_and_images_do_not_keep_it() {
    if !prerequisites() {
        return;
    }
    let dir = scratch_dir();
    let allowed = hello_origin([127, 0, 0, 79]).await;
    let unlisted = hello_origin([127, 0, 0, 80]).await;
    let (h, c) = cloud(dir.path(), Some(&allowed.to_string())).await;
    let url = format!("http://{allowed}/pool/hello.txt");
    // The user data is a systemd service: it finds the proxy in its environment.
    let user_data = format!(
        "#!/bin/bash\nexec 3<>/dev/tcp/127.0.0.1/3128\nprintf 'GET {url} HTTP/1.1\\r\\n\\r\\n' >&3\ncat <&3 > /root/user-data-fetch\necho \"$http_proxy\" > /root/user-data-proxy\n"
    );
    let (id, key, ip) = server(&c, &h, dir.path(), Some(user_data)).await;

    let out = tokio::task::spawn_blocking({
        let (key, ip, url) = (key.clone(), ip.clone(), url.clone());
        move || {
            let proxy = ssh_ok(&key, &ip, "cat /root/user-data-proxy");
            let fetched = ssh_ok(&key, &ip, "cat /root/user-data-fetch");
            ssh_ok(&key, &ip, &format!("/usr/lib/apt/apt-helper download-file {url} /root/hello.txt"));
            let apt = ssh_ok(&key, &ip, "cat /root/hello.txt");
            let refused = ssh_ok(
                &key,
                &ip,
                &format!("exec 3<>/dev/tcp/127.0.0.1/3128 && printf 'GET http://{unlisted}/pool/hello.txt HTTP/1.1\\r\\n\\r\\n' >&3 && timeout 10 cat <&3"),
            );
            let direct = ssh(&key, &ip, &format!("timeout 5 bash -c 'exec 3<>/dev/tcp/{}/{}'", allowed.ip(), allowed.port())).0;
            (proxy, fetched, apt, refused, direct)
        }
    })
    .await
    .unwrap();
    let (proxy, fetched, apt, refused, direct) = out;
    assert_eq!(
        proxy, "http://127.0.0.1:3128",
        "the user data's environment"
    );
    assert!(
        fetched.starts_with("HTTP/1.1 200 OK") && fetched.ends_with(HELLO),
        "{fetched}"
    );
    assert_eq!(apt, HELLO);
    assert!(
        refused.starts_with("HTTP/1.1 403 Forbidden")
            && refused.contains(&format!("{unlisted} is not on")),
        "{refused}"
    );
    assert_ne!(direct, 0, "a direct connection to the host must fail");

    // Stop and capture: the image has what was fetched, none of the proxy settings.
    let stop = c
        .call(
            &h,
            E,
            "POST",
            "/v1/{pid}/cloudservers/action",
            &[],
            Some(&json!({"os-stop": {"type": "SOFT", "servers": [{"id": id}]}})),
        )
        .await;
    assert_eq!(stop.status, 200, "{}", stop.body);
    wait_status(&c, &h, &id, "SHUTOFF", Duration::from_secs(60)).await;
    let img = c
        .call(
            &h,
            M,
            "POST",
            "/v2/cloudimages/action",
            &[],
            Some(&json!({"name": "after-proxy", "instance_id": id})),
        )
        .await;
    assert_eq!(img.status, 200, "{}", img.body);
    let done = wait_job(
        &c,
        &h,
        M,
        img.body["job_id"].as_str().unwrap(),
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    let layer = dir
        .path()
        .join("layers")
        .join(done["entities"]["image_id"].as_str().unwrap());
    assert!(
        layer.join("root/hello.txt").is_file(),
        "the captured image holds the fetched file"
    );
    for path in settings_paths() {
        assert!(
            !layer.join(path).exists(),
            "{path} is in the captured image"
        );
    }
    delete_server(&c, &h, &id).await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_proxy_off_servers_have_no_way_out() {
    if !prerequisites() {
        return;
    }
    let dir = scratch_dir();
    let (h, c) = cloud(dir.path(), None).await;
    let (id, key, ip) = server(&c, &h, dir.path(), None).await;
    let (listener, apt_conf, env) = tokio::task::spawn_blocking(move || {
        (
            ssh(&key, &ip, "exec 3<>/dev/tcp/127.0.0.1/3128").0,
            ssh(&key, &ip, "test -e /etc/apt/apt.conf.d/99cce-package-proxy").0,
            ssh_ok(&key, &ip, "echo \"[$http_proxy]\""),
        )
    })
    .await
    .unwrap();
    assert_ne!(listener, 0, "nothing listens on 3128 inside");
    assert_ne!(apt_conf, 0, "no apt proxy setting");
    assert_eq!(env, "[]");
    delete_server(&c, &h, &id).await;
    h.shutdown().await;
}

#[test]
fn serve_refuses_bad_package_proxy_settings_naming_them() {
    let Some(bin) = common::serve::require_binary() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let serve = |args: &[&str], env: &[(&str, &str)]| {
        let out = Command::new(&bin)
            .args(["localcloud", "serve", "--servers", "record", "--state"])
            .arg(dir.path())
            .args(args)
            .env_remove("CCE_LOCALCLOUD_PACKAGE_PROXY")
            .env_remove("CCE_LOCALCLOUD_PACKAGE_HOSTS")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} {env:?} must be refused");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = serve(&["--package-hosts", "mirror.example,bad host"], &[]);
    assert!(e.contains("--package-hosts mirror.example,bad host: `bad host`"), "{e}");
    let e = serve(&[], &[("CCE_LOCALCLOUD_PACKAGE_PROXY", "sometimes")]);
    assert!(e.contains("CCE_LOCALCLOUD_PACKAGE_PROXY=sometimes: use `on` or `off`"), "{e}");
    let e = serve(&[], &[("CCE_LOCALCLOUD_PACKAGE_HOSTS", "[::1")]);
    assert!(e.contains("CCE_LOCALCLOUD_PACKAGE_HOSTS=[::1: `[::1`"), "{e}");
    let e = serve(&["--package-hosts", "a.example", "--no-package-proxy"], &[]);
    assert!(e.contains("cannot be used with"), "{e}");
}
