//! Local-cloud servers that are real machines: through the signed HTTP API a keypair and a
//! server are made, the server is reached with the real OpenSSH client on its fixed IP and on a
//! bound EIP, its kernel parameters stay inside and reset on reboot, it is stopped, captured
//! into an image, a second server boots from that image and sees the first one's file, and
//! deleting everything leaves no namespace or cgroup behind. Needs root (under `CI=true` a
//! missing prerequisite fails the test).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use cce_localcloud::Service;
use common::Client;
use common::sandbox::{
    SSH_CLIENT, default_network, fixed_ip, keypair_file, leftovers, prerequisites, server_body, ssh, ssh_ok, start_sandboxed,
    wait_job, wait_status,
};
use serde_json::json;

const E: Service = Service::Ecs;
const M: Service = Service::Ims;
const V: Service = Service::Vpc;

fn wait_ssh(key: &Path, addr: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let (code, out) = ssh(key, addr, "true");
        if code == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "ssh to {addr} did not answer within {timeout:?}: {out}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn host_sysctl(key: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{}", key.replace('.', "/")))
        .unwrap()
        .trim()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_servers_are_real_machines() {
    if !prerequisites(&[SSH_CLIENT]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let h = start_sandboxed(dir.path()).await;
    assert!(h.ready_line().contains("\"servers\":\"sandbox\""), "{}", h.ready_line());
    let c = Client::new(&h);

    let key = keypair_file(&c, &h, "kp-sandbox", dir.path()).await;

    let (subnet, gold_id) = default_network(&c, &h).await;
    let gold_id = gold_id.as_str().unwrap().to_string();
    let body = |image: &str, name: &str| server_body(&subnet, &json!(image), name, json!({"key_name": "kp-sandbox"}));

    // First server, from the public image.
    let mut first_body = body(&gold_id, "sandbox-one");
    // `#!/bin/sh\necho from-user-data > /root/user-data-ran\n`, base64: runs on first boot only.
    first_body["server"]["user_data"] = json!("IyEvYmluL3NoCmVjaG8gZnJvbS11c2VyLWRhdGEgPiAvcm9vdC91c2VyLWRhdGEtcmFuCg==");
    let a = c.post(&h, E, "/v1/{pid}/cloudservers", &first_body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let one = a.body["serverIds"][0].as_str().unwrap().to_string();
    let first = c.get(&h, E, &format!("/v1/{{pid}}/cloudservers/{one}")).await;
    assert_eq!(first.body["server"]["status"], "BUILD", "not ACTIVE before sshd answers");
    let job = c.get(&h, E, &format!("/v1/{{pid}}/jobs/{}", a.body["job_id"].as_str().unwrap())).await;
    assert_eq!(job.body["status"], "RUNNING", "the create job waits for the boot: {}", job.body);
    assert_eq!(job.body["entities"]["sub_jobs"][0]["status"], "RUNNING", "{}", job.body);
    let server = wait_status(&c, &h, &one, "ACTIVE", Duration::from_secs(180)).await;
    let job = wait_job(&c, &h, E, a.body["job_id"].as_str().unwrap(), Duration::from_secs(10)).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    let ip = fixed_ip(&server);
    assert!(ip.starts_with("127.10."), "{ip}");
    // ACTIVE means sshd answers: no waiting here.
    assert_eq!(ssh_ok(&key, &ip, "hostname"), "sandbox-one");
    // What provisioning scripts written for real nodes call besides the shell.
    assert_eq!(ssh_ok(&key, &ip, "sudo -n id -u 2>&1"), "0", "sudo resolves the hostname quietly");
    let resolved = ssh_ok(&key, &ip, "getent hosts sandbox-one");
    assert!(resolved.contains(" sandbox-one"), "the hostname resolves: {resolved:?}");
    assert!(ssh_ok(&key, &ip, "cat /etc/hosts").contains("127.0.0.1\tlocalhost"));
    assert!(ssh_ok(&key, &ip, "curl --version").starts_with("curl "));
    assert_eq!(ssh_ok(&key, &ip, "cat /root/user-data-ran"), "from-user-data");

    let knob = "fs.inotify.max_user_watches";
    let host_before = host_sysctl(knob);
    let default_inside = ssh_ok(&key, &ip, &format!("sysctl -n {knob}"));
    assert_ne!(default_inside, "4242");
    ssh_ok(&key, &ip, &format!("sysctl -w {knob}=4242 && echo from-one > /root/marker && sync"));
    assert_eq!(ssh_ok(&key, &ip, &format!("sysctl -n {knob}")), "4242");
    assert_eq!(host_sysctl(knob), host_before, "the host's value never changes");
    let _ = ssh(&key, &ip, "systemctl reboot");
    // The reboot takes the old sshd down before the new one answers.
    std::thread::sleep(Duration::from_secs(2));
    wait_ssh(&key, &ip, Duration::from_secs(120));
    assert_eq!(ssh_ok(&key, &ip, &format!("sysctl -n {knob}")), default_inside);
    assert_eq!(host_sysctl(knob), host_before);

    // An EIP bound to the server reaches the same sshd.
    let eip = c
        .post(&h, V, "/v1/{pid}/publicips", &json!({"publicip": {"type": "5_bgp"}, "bandwidth": {"name": "bw", "size": 5, "share_type": "PER", "charge_mode": "traffic"}}))
        .await;
    assert_eq!(eip.status, 200, "{}", eip.body);
    let eip_id = eip.body["publicip"]["id"].as_str().unwrap().to_string();
    let eip_addr = eip.body["publicip"]["public_ip_address"].as_str().unwrap().to_string();
    assert!(eip_addr.starts_with("127.100."), "{eip_addr}");
    let port = server["addresses"].as_object().unwrap().values().next().unwrap()[0]["OS-EXT-IPS:port_id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = c
        .call(&h, V, "PUT", &format!("/v1/{{pid}}/publicips/{eip_id}"), &[], Some(&json!({"publicip": {"port_id": port}})))
        .await;
    assert_eq!(b.status, 200, "{}", b.body);
    wait_ssh(&key, &eip_addr, Duration::from_secs(20));
    assert_eq!(ssh_ok(&key, &eip_addr, "cat /root/marker"), "from-one");
    // Unbound, the EIP reaches nothing any more.
    let u = c
        .call(&h, V, "PUT", &format!("/v1/{{pid}}/publicips/{eip_id}"), &[], Some(&json!({"publicip": {"port_id": ""}})))
        .await;
    assert_eq!(u.status, 200, "{}", u.body);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect_timeout(&format!("{eip_addr}:22").parse().unwrap(), Duration::from_secs(1)).is_ok() {
        assert!(Instant::now() < deadline, "{eip_addr}:22 still listens after the unbind");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let de = c.delete(&h, V, &format!("/v1/{{pid}}/publicips/{eip_id}")).await;
    assert!(de.status < 300, "{} {}", de.status, de.body);

    // Stop, capture, boot a second server from the image.
    let stop = c
        .post(&h, E, "/v1/{pid}/cloudservers/action", &json!({"os-stop": {"type": "SOFT", "servers": [{"id": one}]}}))
        .await;
    assert_eq!(stop.status, 200, "{}", stop.body);
    wait_status(&c, &h, &one, "SHUTOFF", Duration::from_secs(60)).await;
    assert_ne!(ssh(&key, &ip, "true").0, 0, "a stopped server does not answer");
    let img = c
        .post(&h, M, "/v2/cloudimages/action", &json!({"name": "from-sandbox", "instance_id": one}))
        .await;
    assert_eq!(img.status, 200, "{}", img.body);
    let done = wait_job(&c, &h, M, img.body["job_id"].as_str().unwrap(), Duration::from_secs(120)).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    let image_id = done["entities"]["image_id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let l = c.get_query(&h, M, "/v2/cloudimages", &[("id", &image_id)]).await;
        let st = l.body["images"][0]["status"].as_str().unwrap_or("").to_string();
        if st == "active" {
            break;
        }
        assert_ne!(st, "killed", "{}", l.body);
        assert!(Instant::now() < deadline, "image still {st}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let a = c.post(&h, E, "/v1/{pid}/cloudservers", &body(&image_id, "sandbox-two")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let two = a.body["serverIds"][0].as_str().unwrap().to_string();
    let server_two = wait_status(&c, &h, &two, "ACTIVE", Duration::from_secs(180)).await;
    let ip_two = fixed_ip(&server_two);
    assert_ne!(ip_two, ip);
    assert_eq!(ssh_ok(&key, &ip_two, "cat /root/marker"), "from-one");
    assert_eq!(ssh_ok(&key, &ip_two, "hostname"), "sandbox-two");
    // The image carries the file the first server's user data wrote.
    assert_eq!(ssh_ok(&key, &ip_two, "cat /root/user-data-ran"), "from-user-data");

    // Delete everything.
    let d = c
        .post(&h, E, "/v1/{pid}/cloudservers/delete", &json!({"servers": [{"id": one}, {"id": two}], "delete_publicip": true}))
        .await;
    assert_eq!(d.status, 200, "{}", d.body);
    wait_job(&c, &h, E, d.body["job_id"].as_str().unwrap(), Duration::from_secs(60)).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    for id in [&one, &two] {
        loop {
            let a = c.get(&h, E, &format!("/v1/{{pid}}/cloudservers/{id}")).await;
            if a.status == 404 {
                break;
            }
            assert!(Instant::now() < deadline, "server {id} still there: {}", a.body);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let di = c.delete(&h, M, &format!("/v2/images/{image_id}")).await;
    assert!(di.status < 300, "{} {}", di.status, di.body);
    let dk = c.delete(&h, E, "/v2.1/{pid}/os-keypairs/kp-sandbox").await;
    assert!(dk.status < 300, "{} {}", dk.status, dk.body);
    let inv = c.get(&h, E, "/_admin/inventory").await;
    for kind in ["servers", "eips", "keypairs", "images", "vpcs", "subnets"] {
        assert_eq!(inv.body[kind], json!([]), "{kind} left: {}", inv.body);
    }
    let ids = vec![one.clone(), two.clone()];
    let deadline = Instant::now() + Duration::from_secs(60);
    let left = || {
        let mut l = leftovers(&ids);
        l.extend(ids.iter().map(|id| dir.path().join("servers").join(id)).filter(|d| d.exists()).map(|d| d.display().to_string()));
        // The deleted image's captured layer goes with it.
        let layer = dir.path().join("layers").join(&image_id);
        l.extend([layer.clone(), layer.with_extension("parent")].into_iter().filter(|p| p.exists()).map(|p| p.display().to_string()));
        l
    };
    while !left().is_empty() {
        assert!(Instant::now() < deadline, "left behind: {:?}", left());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    h.shutdown().await;
}
