//! Issues N signed `GET /v1/{pid}/cloudservers/flavors` calls with `cce_cloud` against a local
//! cloud, CONCURRENCY at a time, and prints the rate in requests per second, for
//! `bench/localcloud.sh`. The client's rate limiter is off so the local cloud is what is
//! measured. Usage: `localcloud_rate READY_JSON N CONCURRENCY`.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Instant;

use cce_cloud::{Client, ClientConfig, EndpointsFile, RateLimit};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(ready), Some(n), Some(conc)) = (
        args.get(1),
        args.get(2).and_then(|a| a.parse::<usize>().ok()),
        args.get(3).and_then(|a| a.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: localcloud_rate READY_JSON N CONCURRENCY");
        return ExitCode::from(2);
    };
    let client = match EndpointsFile::parse(ready, "ready line")
        .map_err(|e| e.to_string())
        .and_then(|f| ClientConfig::from_endpoints_file(&f, &HashMap::new()).map_err(|e| e.to_string()))
        .and_then(|mut c| {
            c.rate_limit = RateLimit { per_second: 0.0, burst: 1 };
            Client::new(c).map_err(|e| e.to_string())
        }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("localcloud_rate: {e}");
            return ExitCode::FAILURE;
        }
    };
    // One call first, so a refused signature fails before anything is timed.
    if let Err(e) = client.list_flavors(None).await {
        eprintln!("localcloud_rate: first call failed: {e}");
        return ExitCode::FAILURE;
    }
    let conc = conc.max(1);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..conc {
        let client = client.clone();
        let share = n / conc + usize::from(w < n % conc);
        tasks.push(tokio::spawn(async move {
            for _ in 0..share {
                client.list_flavors(None).await?;
            }
            Ok::<(), cce_cloud::CloudError>(())
        }));
    }
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("localcloud_rate: a call failed: {e}");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("localcloud_rate: a worker stopped: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("{:.0}", n as f64 / started.elapsed().as_secs_f64());
    ExitCode::SUCCESS
}
