//! Poll lag of our job waiter against the packer plugin's fixed schedule, for
//! `bench/waiter.sh`. Against a local cloud with the realistic profile scaled down, it creates
//! SERVERS servers, stops them, makes an image of each and deletes them: every step an ECS or
//! IMS job of its own duration. Each job is watched by two observers at once: `Client::wait_job`
//! with the builder's policies (`Waits::default()`), and the plugin's schedule replayed (its
//! initial delay, 10 s for ECS jobs and 60 s for image jobs, multiplied by SCALE like the job
//! durations; then a fixed 10 s poll, not scaled). The lag of an observer is the time from the
//! job's `end_time` (when the local cloud made it SUCCESS) to the answer that showed SUCCESS.
//! Prints one line per job and a last line `mean_ours_s mean_plugin_s`.
//! Usage: `waiter_lag READY_JSON SCALE SERVERS [MAX_INTERVAL_S]`; MAX_INTERVAL_S, when given,
//! replaces the longest poll interval of our job waits (to weigh a different policy).

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use cce_cloud::models::{CreatedImage, ImageCreate, NicSpec, RootVolume, ServerCreate};
use cce_cloud::{Client, ClientConfig, CloudError, EndpointsFile, RateLimit, Service, Waits};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The plugin's poll interval, as in its StateChangeConf for jobs.
const PLUGIN_POLL: Duration = Duration::from_secs(10);
/// Longest any one job may take before the run is abandoned.
const JOB_DEADLINE: Duration = Duration::from_secs(900);

/// Seconds from the job's end to `seen`.
fn lag(job: &cce_cloud::models::Job, seen: OffsetDateTime) -> Result<f64, String> {
    let end = job.end_time.as_deref().ok_or("the finished job has no end_time")?;
    let end = OffsetDateTime::parse(end, &Rfc3339).map_err(|e| format!("bad end_time {end:?}: {e}"))?;
    Ok((seen - end).as_seconds_f64())
}

/// The plugin's schedule: sleep `delay`, then show the job every 10 s until it is done.
async fn plugin_wait(c: &Client, service: Service, job_id: &str, delay: Duration) -> Result<f64, String> {
    let started = tokio::time::Instant::now();
    tokio::time::sleep(delay).await;
    loop {
        let job = c.show_job(service, job_id).await.map_err(|e| e.to_string())?;
        let seen = OffsetDateTime::now_utc();
        match job.status.as_str() {
            "SUCCESS" => return lag(&job, seen),
            "FAIL" => return Err(format!("job {job_id} failed: {:?}", job.fail_reason)),
            _ => {}
        }
        if started.elapsed() > JOB_DEADLINE {
            return Err(format!("job {job_id} not done after {JOB_DEADLINE:?}"));
        }
        tokio::time::sleep(PLUGIN_POLL).await;
    }
}

async fn ours_wait(c: &Client, service: Service, job_id: &str, waits: &Waits) -> Result<f64, String> {
    let policy = if service == Service::Ims { &waits.image } else { &waits.server };
    let job = c.wait_job(service, job_id, policy).await.map_err(|e| e.to_string())?;
    lag(&job, OffsetDateTime::now_utc())
}

/// Both observers on one job at once; returns the (ours, plugin) lags in seconds.
async fn observe(c: &Client, service: Service, job_id: &str, plugin_delay: Duration, waits: &Waits) -> Result<(f64, f64), String> {
    let (ours, plugin) = tokio::join!(ours_wait(c, service, job_id, waits), plugin_wait(c, service, job_id, plugin_delay));
    Ok((ours?, plugin?))
}

async fn run(ready: &str, scale: f64, servers: usize, max_interval: Option<Duration>) -> Result<Vec<(String, f64, f64)>, String> {
    let file = EndpointsFile::parse(ready, "ready line").map_err(|e| e.to_string())?;
    let mut config = ClientConfig::from_endpoints_file(&file, &HashMap::new()).map_err(|e| e.to_string())?;
    config.rate_limit = RateLimit { per_second: 0.0, burst: 1 };
    let c = Client::new(config).map_err(|e| e.to_string())?;
    let mut waits = Waits::default();
    if let Some(max) = max_interval {
        waits.server.max_interval = max;
        waits.image.max_interval = max;
    }
    let ecs_delay = Duration::from_secs_f64(10.0 * scale);
    let ims_delay = Duration::from_secs_f64(60.0 * scale);
    let err = |e: CloudError| e.to_string();

    let subnet = c.list_subnets(None).await.map_err(err)?.into_iter().next().ok_or("no subnet")?;
    let gold = c
        .list_images(&cce_cloud::models::ImageQuery { image_type: Some("gold".into()), ..Default::default() })
        .await
        .map_err(err)?
        .into_iter()
        .next()
        .ok_or("no gold image")?;
    let mut rows = Vec::new();

    // Every phase runs its jobs at once; both observers watch each job.
    let mut creates = Vec::new();
    for i in 0..servers {
        let spec = ServerCreate {
            name: format!("waiter-bench-{i}"),
            image_ref: gold.id.clone(),
            flavor_ref: "s7n.large.2".into(),
            vpcid: subnet.vpc_id.clone(),
            nics: vec![NicSpec { subnet_id: subnet.id.clone(), ip_address: None }],
            root_volume: RootVolume { volumetype: "SSD".into(), size: Some(40) },
            ..Default::default()
        };
        let r = c.create_server_v1(&spec).await.map_err(err)?;
        let job = r.job_id.ok_or("the create answered without a job")?;
        creates.push((r.server_ids.first().cloned().ok_or("no server id")?, job));
    }
    let lags = futures_join(creates.iter().map(|(_, j)| observe(&c, Service::Ecs, j, ecs_delay, &waits))).await?;
    rows.extend(lags.into_iter().map(|(o, p)| ("create server".to_string(), o, p)));
    let ids: Vec<String> = creates.into_iter().map(|(s, _)| s).collect();

    let mut stops = Vec::new();
    for id in &ids {
        stops.push(c.stop_servers(&[id], false).await.map_err(err)?);
    }
    let lags = futures_join(stops.iter().map(|j| observe(&c, Service::Ecs, j, ecs_delay, &waits))).await?;
    rows.extend(lags.into_iter().map(|(o, p)| ("stop server".to_string(), o, p)));

    let mut images = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let spec = ImageCreate { name: format!("waiter-bench-image-{i}"), instance_id: id.clone(), ..Default::default() };
        match c.create_image(&spec).await.map_err(err)? {
            CreatedImage::Job(j) => images.push(j),
            CreatedImage::Existing(_) => return Err("the image create answered without a job".into()),
        }
    }
    let lags = futures_join(images.iter().map(|j| observe(&c, Service::Ims, j, ims_delay, &waits))).await?;
    rows.extend(lags.into_iter().map(|(o, p)| ("create image".to_string(), o, p)));

    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let del = c.delete_servers(&refs, true, true).await.map_err(err)?;
    let (o, p) = observe(&c, Service::Ecs, &del, ecs_delay, &waits).await?;
    rows.push(("delete servers".to_string(), o, p));
    Ok(rows)
}

/// Runs futures together and collects their results in order, failing on the first error.
async fn futures_join<T, F>(futs: impl Iterator<Item = F>) -> Result<Vec<T>, String>
where
    F: std::future::Future<Output = Result<T, String>>,
{
    let pinned: Vec<_> = futs.map(Box::pin).collect();
    let mut out = Vec::new();
    for r in join_all(pinned).await {
        out.push(r?);
    }
    Ok(out)
}

/// A minimal join-all over pinned futures (keeps the example free of extra dependencies).
async fn join_all<F: std::future::Future + Unpin>(mut futs: Vec<F>) -> Vec<F::Output> {
    let mut results: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, r) in futs.iter_mut().zip(results.iter_mut()) {
            if r.is_none() {
                match std::pin::Pin::new(&mut *f).poll(cx) {
                    std::task::Poll::Ready(v) => *r = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    results.into_iter().flatten().collect()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(ready), Some(scale), Some(servers)) = (
        args.get(1),
        args.get(2).and_then(|a| a.parse::<f64>().ok()),
        args.get(3).and_then(|a| a.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: waiter_lag READY_JSON SCALE SERVERS [MAX_INTERVAL_S]");
        return ExitCode::from(2);
    };
    let max_interval = match args.get(4).map(|a| a.parse::<f64>()) {
        None => None,
        Some(Ok(s)) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        Some(_) => {
            eprintln!("waiter_lag: MAX_INTERVAL_S must be a positive number of seconds");
            return ExitCode::from(2);
        }
    };
    match run(ready, scale, servers.max(1), max_interval).await {
        Ok(rows) => {
            for (what, o, p) in &rows {
                println!("job {what}: lag ours {o:.3} s, plugin {p:.3} s");
            }
            let n = rows.len() as f64;
            let mean_o = rows.iter().map(|r| r.1).sum::<f64>() / n;
            let mean_p = rows.iter().map(|r| r.2).sum::<f64>() / n;
            println!("{mean_o:.3} {mean_p:.3}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("waiter_lag: {e}");
            ExitCode::FAILURE
        }
    }
}
