//! The IMS job's `entities.process_percent` over real signed HTTP: it rises over the job's
//! planned duration on the scaled realistic profile, holds below 100 until the job succeeds,
//! and the client's job wait hands it to an observer on every poll, ending at 100.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cce_cloud::models::{
    CreatedImage, IdRef, ImageCreate, ImageQuery, NicSpec, RootVolume, ServerCreate,
};
use cce_cloud::{
    Client, ClientConfig, Cloud, EndpointsFile, PercentObserver, Service, WaitPolicy, job_percent,
};
use cce_localcloud::{Config, LocalCloud, LocalCloudHandle, Profile};

/// Jobs last seconds: server build 1.2-1.8 s, stop 0.2-0.4 s, image 2.4-3.6 s.
const SCALE: f64 = 0.02;

async fn start() -> (tempfile::TempDir, LocalCloudHandle, Client) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = Config::new(dir.path());
    cfg.profile = Profile::Realistic;
    cfg.scale = SCALE;
    let h = LocalCloud::start(cfg).await.expect("local cloud starts");
    let file = EndpointsFile::parse(&h.ready_line(), "ready line").expect("ready line parses");
    let c = Client::new(ClientConfig::from_endpoints_file(&file, &HashMap::new()).expect("config"))
        .expect("client");
    (dir, h, c)
}

/// A stopped server to capture.
async fn stopped_server(c: &Client, name: &str) -> String {
    let wait = WaitPolicy::with_timeout(Duration::from_secs(30));
    let subnet = c.list_subnets(None).await.expect("subnets").remove(0);
    let sg = c
        .list_security_groups()
        .await
        .expect("security groups")
        .into_iter()
        .find(|g| g.name == "default")
        .expect("default group");
    let gold = c
        .list_images(&ImageQuery {
            image_type: Some("gold".into()),
            name: Some("Debian 12 (local sandbox rootfs)".into()),
            ..Default::default()
        })
        .await
        .expect("gold image");
    let server = Cloud::create_server(
        c,
        &ServerCreate {
            name: name.into(),
            image_ref: gold[0].id.clone(),
            flavor_ref: "s7n.large.2".into(),
            vpcid: subnet.vpc_id.clone(),
            nics: vec![NicSpec {
                subnet_id: subnet.id.clone(),
                ip_address: None,
            }],
            security_groups: vec![IdRef { id: sg.id }],
            availability_zone: Some("ru-moscow-1a".into()),
            root_volume: RootVolume {
                volumetype: "SSD".into(),
                size: Some(40),
            },
            ..Default::default()
        },
        &wait,
    )
    .await
    .expect("server");
    Cloud::stop_server(c, &server.id, &wait)
        .await
        .expect("stop");
    server.id
}

fn image(name: &str, server: &str) -> ImageCreate {
    ImageCreate {
        name: name.into(),
        instance_id: server.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn process_percent_rises_over_the_job() {
    let (_dir, h, c) = start().await;
    let server = stopped_server(&c, "progress-raw").await;
    let made = c
        .create_image(&image("progress-raw-image", &server))
        .await
        .expect("create image");
    let CreatedImage::Job(job_id) = made else {
        panic!("no job: {made:?}")
    };
    let started = Instant::now();
    let mut seen = Vec::new();
    loop {
        let job = c.show_job(Service::Ims, &job_id).await.expect("job");
        let percent = job_percent(&job).expect("the job reports process_percent");
        let raw = job.entities["process_percent"].as_f64().expect("a number");
        assert!(
            (0.0..=1.0).contains(&raw),
            "the local cloud reports a fraction, got {raw}"
        );
        seen.push((job.status.clone(), percent));
        if job.is_success() {
            break;
        }
        assert!(!job.is_failed(), "{job:?}");
        assert!(percent < 100, "100% before the job succeeded: {seen:?}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the job did not end: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(
        seen.windows(2).all(|w| w[0].1 <= w[1].1),
        "went back: {seen:?}"
    );
    assert_eq!(seen.last().map(|s| s.1), Some(100));
    let between: std::collections::BTreeSet<u32> = seen
        .iter()
        .map(|s| s.1)
        .filter(|p| *p > 0 && *p < 100)
        .collect();
    assert!(
        between.len() >= 3,
        "expected a rising percent, saw {seen:?}"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn image_wait_reports_every_poll_and_ends_at_100() {
    let (_dir, h, c) = start().await;
    let server = stopped_server(&c, "progress-wait").await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let record = calls.clone();
    let observer: PercentObserver = Arc::new(move |p| record.lock().unwrap().push(p));
    let wait = WaitPolicy::with_timeout(Duration::from_secs(30));
    let cloud: Arc<dyn Cloud> = Arc::new(c);
    let id = cloud
        .create_image_with_progress(
            &image("progress-wait-image", &server),
            &wait,
            Some(observer),
        )
        .await
        .expect("image");
    assert!(!id.is_empty());
    let calls = calls.lock().unwrap().clone();
    // Polls every half second at most over a job of 2.4 s or more: several reports.
    assert!(calls.len() >= 4, "{calls:?}");
    assert!(
        calls.windows(2).all(|w| w[0] <= w[1]),
        "went back: {calls:?}"
    );
    assert!(
        calls.iter().filter(|p| **p > 0 && **p < 100).count() >= 2,
        "{calls:?}"
    );
    assert_eq!(calls.last(), Some(&100));
    h.shutdown().await;
}
