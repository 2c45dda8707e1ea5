//! Data volumes through the signed API. Without root: the create body's `data_volumes` are
//! checked and reported in `os-extended-volumes:volumes_attached`. With root (under `CI=true` a
//! missing prerequisite fails the test): a sandbox server with two data volumes is reached with
//! the real `ssh`, `mkfs.ext4` and `dd` work on `/dev/vdb` and `/dev/vdc`, the data survives a
//! stop and start through the API (no loop device attached while it is SHUTOFF), a captured
//! image holds the system disk only, and delete leaves no loop device and no file.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cce_localcloud::{Config, LocalCloud, LocalCloudHandle, Service};
use common::Client;
use common::sandbox::{
    LOSETUP, SSH_CLIENT, default_network, fixed_ip, keypair_file, leftovers, prerequisites, server_body, ssh, ssh_ok,
    start_sandboxed, wait_status,
};
use serde_json::{Value, json};

const E: Service = Service::Ecs;
const M: Service = Service::Ims;

/// A create body for the default network with `data_volumes`.
async fn create_body(c: &Client, h: &LocalCloudHandle, name: &str, data_volumes: Value, key: Option<&str>) -> Value {
    let (subnet, gold) = default_network(c, h).await;
    let mut extra = json!({"data_volumes": data_volumes});
    if let Some(k) = key {
        extra["key_name"] = json!(k);
    }
    server_body(&subnet, &gold, name, extra)
}

#[tokio::test]
async fn data_volumes_are_checked_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path());
    config.profile = cce_localcloud::Profile::Instant;
    let h = LocalCloud::start(config).await.unwrap();
    let c = Client::new(&h);

    let bad = [
        (json!([{"volumetype": "SSD", "size": 5}]), "`server.data_volumes[0].size` must be 10-32768 GB, got 5"),
        (json!([{"volumetype": "SSD"}]), "`server.data_volumes[0].size` is required"),
        (json!([{"volumetype": "SSD", "size": 10}, {"volumetype": "FAST", "size": 10}]), "`server.data_volumes[1].volumetype` `FAST` is invalid"),
        (json!([{"volumetype": "SSD", "size": 10, "sizee": 1}]), "unknown field `server.data_volumes[0].sizee`"),
        (json!({"volumetype": "SSD", "size": 10}), "data_volumes"),
    ];
    for (volumes, want) in bad {
        let body = create_body(&c, &h, "bad-volumes", volumes.clone(), None).await;
        let a = c.post(&h, E, "/v1/{pid}/cloudservers", &body).await;
        assert_eq!(a.status, 400, "{volumes} was accepted: {}", a.body);
        let msg = a.body["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(want), "{volumes}: `{msg}` does not say `{want}`");
    }

    let body = create_body(
        &c,
        &h,
        "with-volumes",
        json!([{"volumetype": "SSD", "size": 10}, {"volumetype": "SAS", "size": 20, "hw:passthrough": false}]),
        None,
    )
    .await;
    let a = c.post(&h, E, "/v1/{pid}/cloudservers", &body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let id = a.body["serverIds"][0].as_str().unwrap().to_string();
    let server = wait_status(&c, &h, &id, "ACTIVE", Duration::from_secs(30)).await;
    let volumes = server["os-extended-volumes:volumes_attached"].as_array().unwrap();
    let devices: Vec<&str> = volumes.iter().map(|v| v["device"].as_str().unwrap()).collect();
    assert_eq!(devices, ["/dev/vda", "/dev/vdb", "/dev/vdc"]);
    assert_eq!(volumes[0]["bootIndex"], "0");
    assert_eq!(volumes[1]["bootIndex"], "-1");
    let ids: std::collections::HashSet<&str> = volumes.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "volume ids are distinct: {volumes:?}");
    // The block devices call lists the same disks, the system disk first.
    let b = c.get(&h, E, &format!("/v1/{{pid}}/cloudservers/{id}/block_device")).await;
    assert_eq!(b.status, 200, "{}", b.body);
    let attached = b.body["volumeAttachments"].as_array().unwrap();
    let devices: Vec<&str> = attached.iter().map(|v| v["device"].as_str().unwrap()).collect();
    assert_eq!(devices, ["/dev/vda", "/dev/vdb", "/dev/vdc"], "{}", b.body);
    assert_eq!(attached[0]["bootIndex"], 0);
    // Kept in the state: a restart reports the same volumes.
    h.shutdown().await;
    let h = LocalCloud::start(Config::new(dir.path())).await.unwrap();
    let c = Client::new(&h);
    let s = c.get(&h, E, &format!("/v1/{{pid}}/cloudservers/{id}")).await;
    assert_eq!(s.body["server"]["os-extended-volumes:volumes_attached"], server["os-extended-volumes:volumes_attached"]);
    h.shutdown().await;
}

/// Loop devices whose backing file is under `dir`.
fn loops_under(dir: &Path) -> Vec<String> {
    let prefix = std::fs::canonicalize(dir).unwrap().display().to_string();
    cce_sandbox::disks::attached_loop_devices()
        .into_iter()
        .filter(|(_, b)| b.starts_with(&prefix))
        .map(|(d, b)| format!("{} {b}", d.display()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_data_volumes_are_disks_that_keep_their_data() {
    if !prerequisites(&[SSH_CLIENT, LOSETUP]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o711)).unwrap();
    let h = start_sandboxed(dir.path()).await;
    let c = Client::new(&h);
    let key = keypair_file(&c, &h, "kp-disks", dir.path()).await;
    let body = create_body(
        &c,
        &h,
        "disks",
        json!([{"volumetype": "SSD", "size": 10}, {"volumetype": "SAS", "size": 20}]),
        Some("kp-disks"),
    )
    .await;
    let a = c.post(&h, E, "/v1/{pid}/cloudservers", &body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let id = a.body["serverIds"][0].as_str().unwrap().to_string();
    let server = wait_status(&c, &h, &id, "ACTIVE", Duration::from_secs(180)).await;
    let ip = fixed_ip(&server);
    assert_eq!(loops_under(dir.path()).len(), 2, "{:?}", loops_under(dir.path()));

    let checksum = {
        let (key, ip) = (key.clone(), ip.clone());
        tokio::task::spawn_blocking(move || {
            assert_eq!(ssh_ok(&key, &ip, "blockdev --getsize64 /dev/vdb"), (10u64 << 30).to_string());
            assert_eq!(ssh_ok(&key, &ip, "blockdev --getsize64 /dev/vdc"), (20u64 << 30).to_string());
            ssh_ok(&key, &ip, "mkfs.ext4 -q -F -L node-data /dev/vdb");
            ssh_ok(&key, &ip, "dd if=/dev/urandom of=/dev/vdc bs=4096 count=32 seek=8 conv=fsync status=none");
            let (code, out) = ssh(&key, &ip, "mkdir -p /mnt/d && mount /dev/vdb /mnt/d");
            assert_ne!(code, 0, "a mount of a data disk succeeded inside: {out}");
            ssh_ok(&key, &ip, "dd if=/dev/vdc bs=4096 count=32 skip=8 status=none | sha256sum")
        })
        .await
        .unwrap()
    };
    let host_mounts = std::fs::read_to_string("/proc/1/mountinfo").unwrap();
    assert!(!host_mounts.contains(&dir.path().display().to_string()), "a mount reached the host");

    let stop = c
        .post(&h, E, "/v1/{pid}/cloudservers/action", &json!({"os-stop": {"type": "SOFT", "servers": [{"id": id}]}}))
        .await;
    assert_eq!(stop.status, 200, "{}", stop.body);
    wait_status(&c, &h, &id, "SHUTOFF", Duration::from_secs(60)).await;
    assert!(loops_under(dir.path()).is_empty(), "loop devices attached while SHUTOFF: {:?}", loops_under(dir.path()));

    // A captured image is the system disk only.
    let img = c
        .post(&h, M, "/v2/cloudimages/action", &json!({"name": "no-data-disks", "instance_id": id}))
        .await;
    assert_eq!(img.status, 200, "{}", img.body);
    let deadline = Instant::now() + Duration::from_secs(120);
    let image_id = loop {
        let j = c.get(&h, M, &format!("/v1/{{pid}}/jobs/{}", img.body["job_id"].as_str().unwrap())).await;
        if j.body["status"] == "SUCCESS" {
            break j.body["entities"]["image_id"].as_str().unwrap().to_string();
        }
        assert_ne!(j.body["status"], "FAIL", "{}", j.body);
        assert!(Instant::now() < deadline, "capture still {}", j.body["status"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let layer = dir.path().join("layers").join(&image_id);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !layer.is_dir() {
        assert!(Instant::now() < deadline, "no layer for {image_id}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let du = Command::new("du").args(["-s", "-k"]).arg(&layer).output().unwrap();
    let kib: u64 = String::from_utf8_lossy(&du.stdout).split_whitespace().next().unwrap().parse().unwrap();
    assert!(kib < 64 * 1024, "the captured layer holds {kib} KiB: a data disk went into the image?");
    let found = Command::new("find").arg(&layer).args(["-name", "cce-data-*"]).output().unwrap();
    assert!(found.stdout.is_empty(), "data disk files in the image: {}", String::from_utf8_lossy(&found.stdout));

    let st = c
        .post(&h, E, "/v1/{pid}/cloudservers/action", &json!({"os-start": {"servers": [{"id": id}]}}))
        .await;
    assert_eq!(st.status, 200, "{}", st.body);
    wait_status(&c, &h, &id, "ACTIVE", Duration::from_secs(180)).await;
    {
        let (key, ip) = (key.clone(), ip.clone());
        tokio::task::spawn_blocking(move || {
            assert_eq!(ssh_ok(&key, &ip, "blkid -s LABEL -o value /dev/vdb"), "node-data");
            assert_eq!(ssh_ok(&key, &ip, "dd if=/dev/vdc bs=4096 count=32 skip=8 status=none | sha256sum"), checksum);
        })
        .await
        .unwrap();
    }

    let d = c.post(&h, E, "/v1/{pid}/cloudservers/delete", &json!({"servers": [{"id": id}]})).await;
    assert_eq!(d.status, 200, "{}", d.body);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let a = c.get(&h, E, &format!("/v1/{{pid}}/cloudservers/{id}")).await;
        let gone = a.status == 404
            && leftovers(std::slice::from_ref(&id)).is_empty()
            && loops_under(dir.path()).is_empty()
            && !dir.path().join("servers").join(&id).exists();
        if gone {
            break;
        }
        assert!(Instant::now() < deadline, "server {id} not gone: loops {:?}", loops_under(dir.path()));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    h.shutdown().await;
}
