//! The one waiter: `wait_until` polls a probe fast at first then slower, tolerates transient
//! query errors, can demand N consecutive successes, and always times out with what it was
//! waiting for and the last status seen. `wait_job` and the resource waits are built on it.
//! A job wait can also report the job's `entities.process_percent` on every poll.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::client::Client;
use crate::endpoints::Service;
use crate::error::CloudError;
use crate::models::{Image, Job, PublicIp, Server, Subnet, Vpc};

/// How to poll.
#[derive(Clone, Debug, PartialEq)]
pub struct WaitPolicy {
    /// The first interval; it doubles after each poll up to `max_interval`. The cap is half a
    /// second: a build waits on six or more jobs and states in a row, and each is seen on
    /// average half an interval late, which costs a build more than two polls a second cost
    /// the API (the per-region rate limit still bounds them).
    pub first_interval: Duration,
    pub max_interval: Duration,
    /// Total time before giving up (the initial delay included).
    pub timeout: Duration,
    /// Wait this long before the first poll.
    pub initial_delay: Duration,
    /// Query errors in a row tolerated before giving up (auth errors are never tolerated).
    pub max_query_errors: u32,
    /// Ready results in a row needed before the wait succeeds.
    pub consecutive_successes: u32,
}

impl Default for WaitPolicy {
    fn default() -> Self {
        WaitPolicy {
            first_interval: Duration::from_millis(200),
            max_interval: Duration::from_millis(500),
            timeout: Duration::from_secs(600),
            initial_delay: Duration::ZERO,
            max_query_errors: 20,
            consecutive_successes: 1,
        }
    }
}

impl WaitPolicy {
    pub fn with_timeout(timeout: Duration) -> WaitPolicy {
        WaitPolicy { timeout, ..WaitPolicy::default() }
    }
}

/// Hears a job's progress in percent (0-100), once per poll and 100 when it succeeds.
pub type PercentObserver = Arc<dyn Fn(u32) + Send + Sync>;

/// A job's `entities.process_percent` as a whole percent, clamped to 0-100. IMS documents no
/// scale and both are seen: `"37%"` and a value above 1 are percents, a value below 1 a
/// fraction (`0.37`). Exactly 1 is ambiguous: 100 once the job succeeded, else read as 1%, so
/// a percent-scale job does not show as done at its start (a fraction-scale job at its very
/// end stays where it was: callers that draw a bar keep the highest value seen).
pub fn job_percent(job: &Job) -> Option<u32> {
    let raw = job.entities.get("process_percent")?;
    let (value, percent_sign) = match raw {
        Value::Number(n) => (n.as_f64()?, false),
        Value::String(s) => {
            let s = s.trim();
            (s.trim_end_matches('%').trim().parse::<f64>().ok()?, s.ends_with('%'))
        }
        _ => return None,
    };
    if !value.is_finite() {
        return None;
    }
    let percent = if percent_sign || value > 1.0 {
        value
    } else if value < 1.0 {
        value * 100.0
    } else if job.status.eq_ignore_ascii_case("SUCCESS") {
        100.0
    } else {
        1.0
    };
    // Clamped first, so the cast cannot overflow; floor, so 100 only when the job says done.
    Some(percent.clamp(0.0, 100.0).floor() as u32)
}

/// One look at the thing waited for.
#[derive(Debug)]
pub enum Probe<T> {
    Ready(T),
    /// Not yet; the status seen.
    Pending(String),
    /// It will never get there.
    Failed(CloudError),
}

impl Client {
    /// Polls `probe` until it is ready, failed, or `policy.timeout` has passed. `what` names the
    /// thing for messages ("ecs job 123").
    pub async fn wait_until<T, F, Fut>(&self, what: &str, policy: &WaitPolicy, mut probe: F) -> Result<T, CloudError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Probe<T>, CloudError>>,
    {
        let timer = self.timer().clone();
        let start = timer.now();
        let deadline = start + policy.timeout;
        if !policy.initial_delay.is_zero() {
            timer.sleep(policy.initial_delay.min(policy.timeout)).await;
        }
        let mut interval = policy.first_interval.max(Duration::from_millis(1));
        let mut errors = 0u32;
        let mut streak = 0u32;
        let mut last: String;
        loop {
            match probe().await {
                Ok(Probe::Ready(v)) => {
                    errors = 0;
                    streak += 1;
                    if streak >= policy.consecutive_successes.max(1) {
                        return Ok(v);
                    }
                    last = format!("ready {streak} time(s) in a row");
                }
                Ok(Probe::Pending(status)) => {
                    errors = 0;
                    streak = 0;
                    last = status;
                }
                Ok(Probe::Failed(e)) => return Err(e),
                Err(e) if e.is_auth() => return Err(e),
                Err(e) => {
                    errors += 1;
                    streak = 0;
                    tracing::debug!(error = %e, errors, what, "wait query failed");
                    if errors > policy.max_query_errors {
                        return Err(e);
                    }
                    last = format!("query failed: {e}");
                }
            }
            let now = timer.now();
            if now >= deadline {
                return Err(CloudError::WaitTimeout { what: what.to_string(), waited: now - start, last });
            }
            timer.sleep(interval.min(deadline - now)).await;
            interval = (interval * 2).min(policy.max_interval.max(policy.first_interval));
        }
    }

    /// Waits for an ECS or IMS job to succeed and returns it (see `Job::server_id`,
    /// `Job::image_id`). FAIL is an error with the job's code and reason.
    pub async fn wait_job(&self, service: Service, job_id: &str, policy: &WaitPolicy) -> Result<Job, CloudError> {
        self.wait_job_with_progress(service, job_id, policy, None).await
    }

    /// [`wait_job`](Self::wait_job), telling `progress` the job's percent (see [`job_percent`])
    /// after every poll that carries one, and 100 when the job succeeds.
    pub async fn wait_job_with_progress(
        &self,
        service: Service,
        job_id: &str,
        policy: &WaitPolicy,
        progress: Option<&PercentObserver>,
    ) -> Result<Job, CloudError> {
        let what = format!("{service} job {job_id}");
        self.wait_until(&what, policy, || async {
            let job = self.show_job(service, job_id).await?;
            if let Some(observer) = progress {
                if job.is_success() {
                    observer(100);
                } else if let Some(percent) = job_percent(&job) {
                    observer(percent);
                }
            }
            if job.is_success() {
                Ok(Probe::Ready(job))
            } else if job.is_failed() {
                Ok(Probe::Failed(CloudError::JobFailed {
                    service: service.to_string(),
                    job_id: job_id.to_string(),
                    job_type: job.job_type.clone(),
                    code: job.failure_code(),
                    reason: job.failure_reason(),
                }))
            } else {
                Ok(Probe::Pending(format!("job status {}", job.status)))
            }
        })
        .await
    }

    /// Waits for a server to reach one of `targets` (e.g. `ACTIVE`, `SHUTOFF`). `DELETED` in
    /// `targets` accepts a 404, and then returns `None`. `ERROR` is a failure.
    pub async fn wait_server(&self, server_id: &str, targets: &[&str], policy: &WaitPolicy) -> Result<Option<Server>, CloudError> {
        let what = format!("server {server_id} to be {}", targets.join(" or "));
        let wanted = targets.join(" or ");
        self.wait_until(&what, policy, || async {
            match self.show_server(server_id).await {
                Ok(s) if targets.iter().any(|t| t.eq_ignore_ascii_case(&s.status)) => Ok(Probe::Ready(Some(s))),
                Ok(s) if s.status == "ERROR" && !targets.contains(&"ERROR") => Ok(Probe::Failed(CloudError::WaitFailed {
                    what: format!("server {server_id}"),
                    status: s.status,
                    wanted: wanted.clone(),
                })),
                Ok(s) => Ok(Probe::Pending(format!("status {}", s.status))),
                Err(e) if e.is_not_found() && targets.contains(&"DELETED") => Ok(Probe::Ready(None)),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Waits for a VPC to be `OK`.
    pub async fn wait_vpc_ok(&self, vpc_id: &str, policy: &WaitPolicy) -> Result<Vpc, CloudError> {
        self.wait_status(&format!("vpc {vpc_id}"), &["OK"], &["ERROR"], policy, || self.show_vpc(vpc_id), |v: &Vpc| v.status.clone()).await
    }

    /// Waits for a subnet to be `ACTIVE`.
    pub async fn wait_subnet_active(&self, subnet_id: &str, policy: &WaitPolicy) -> Result<Subnet, CloudError> {
        self.wait_status(&format!("subnet {subnet_id}"), &["ACTIVE"], &["ERROR"], policy, || self.show_subnet(subnet_id), |s: &Subnet| s.status.clone())
            .await
    }

    /// Waits for an EIP to be usable: `DOWN` (unbound) or `ACTIVE` (bound).
    pub async fn wait_eip_ready(&self, eip_id: &str, policy: &WaitPolicy) -> Result<PublicIp, CloudError> {
        self.wait_status(&format!("eip {eip_id}"), &["DOWN", "ACTIVE"], &["ERROR", "BIND_ERROR"], policy, || self.show_eip(eip_id), |e: &PublicIp| {
            e.status.clone()
        })
        .await
    }

    /// Waits for an image to be `active`; `killed` or `deleted` is a failure.
    pub async fn wait_image_active(&self, image_id: &str, policy: &WaitPolicy) -> Result<Image, CloudError> {
        let what = format!("image {image_id}");
        self.wait_until(&what, policy, || async {
            match self.show_image(image_id).await? {
                Some(i) if i.status == "active" => Ok(Probe::Ready(i)),
                Some(i) if i.status == "killed" || i.status == "deleted" => {
                    Ok(Probe::Failed(CloudError::WaitFailed { what: what.clone(), status: i.status, wanted: "active".into() }))
                }
                Some(i) => Ok(Probe::Pending(format!("status {}", i.status))),
                None => Ok(Probe::Pending("not listed yet".into())),
            }
        })
        .await
    }

    async fn wait_status<T, F, Fut>(
        &self,
        name: &str,
        ready: &[&str],
        failed: &[&str],
        policy: &WaitPolicy,
        mut show: F,
        status: impl Fn(&T) -> String,
    ) -> Result<T, CloudError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, CloudError>>,
    {
        let what = format!("{name} to be {}", ready.join(" or "));
        self.wait_until(&what, policy, || {
            let fut = show();
            let status = &status;
            async move {
                let v = fut.await?;
                let s = status(&v);
                if ready.contains(&s.as_str()) {
                    Ok(Probe::Ready(v))
                } else if failed.contains(&s.as_str()) {
                    Ok(Probe::Failed(CloudError::WaitFailed { what: name.to_string(), status: s, wanted: ready.join(" or ") }))
                } else {
                    Ok(Probe::Pending(format!("status {s}")))
                }
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::client::ClientConfig;
    use crate::endpoints::Endpoints;
    use crate::retry::VirtualTimer;
    use crate::signer::Credentials;

    fn client(timer: Arc<VirtualTimer>) -> Client {
        let creds = Credentials { access_key: "ak".into(), secret_key: "sk".into(), security_token: None };
        let mut c = ClientConfig::new(Endpoints::cloud_ru("ru-moscow-1"), creds);
        c.timer = timer;
        Client::new(c).unwrap()
    }

    #[tokio::test]
    async fn polls_fast_first_then_caps_the_interval() {
        let timer = Arc::new(VirtualTimer::default());
        let c = client(timer.clone());
        let n = AtomicU32::new(0);
        let policy = WaitPolicy::default();
        let v = c
            .wait_until("thing", &policy, || async {
                let i = n.fetch_add(1, Ordering::SeqCst);
                Ok(if i < 8 { Probe::Pending(format!("step {i}")) } else { Probe::Ready(i) })
            })
            .await
            .unwrap();
        assert_eq!(v, 8);
        let ms: Vec<u128> = timer.sleeps().iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, vec![200, 400, 500, 500, 500, 500, 500, 500]);
    }

    #[tokio::test]
    async fn timeout_fires_with_the_last_status() {
        let timer = Arc::new(VirtualTimer::default());
        let c = client(timer.clone());
        let policy = WaitPolicy::with_timeout(Duration::from_secs(30));
        let err = c.wait_until::<(), _, _>("ecs job j-1", &policy, || async { Ok(Probe::Pending("job status RUNNING".into())) }).await.unwrap_err();
        assert_eq!(err.to_string(), "timed out after 30s waiting for ecs job j-1; last status: job status RUNNING");
        assert_eq!(timer.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test]
    async fn transient_errors_are_tolerated_up_to_the_limit() {
        let timer = Arc::new(VirtualTimer::default());
        let c = client(timer.clone());
        let n = AtomicU32::new(0);
        let policy = WaitPolicy { max_query_errors: 3, ..WaitPolicy::default() };
        let flaky = || async {
            let i = n.fetch_add(1, Ordering::SeqCst);
            if i < 3 { Err(CloudError::Config("flaky".into())) } else { Ok(Probe::Ready(i)) }
        };
        assert_eq!(c.wait_until("x", &policy, flaky).await.unwrap(), 3);
        let always = || async { Err::<Probe<()>, _>(CloudError::Config("down".into())) };
        let err = c.wait_until("x", &policy, always).await.unwrap_err();
        assert_eq!(err.to_string(), "down");
    }

    fn job(v: serde_json::Value) -> Job {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn job_percent_reads_both_scales_and_clamps() {
        let p = |v: serde_json::Value| job_percent(&job(serde_json::json!({"status": "RUNNING", "entities": {"process_percent": v}})));
        assert_eq!(p(serde_json::json!(0.0)), Some(0));
        assert_eq!(p(serde_json::json!(0.376)), Some(37));
        // Exactly 1 while running is 1% (a percent-scale job's start), 100 once done.
        assert_eq!(p(serde_json::json!(1.0)), Some(1));
        assert_eq!(job_percent(&job(serde_json::json!({"status": "SUCCESS", "entities": {"process_percent": 1.0}}))), Some(100));
        assert_eq!(p(serde_json::json!("1%")), Some(1));
        assert_eq!(p(serde_json::json!("0.5%")), Some(0));
        assert_eq!(p(serde_json::json!(37)), Some(37));
        assert_eq!(p(serde_json::json!(99.9)), Some(99));
        assert_eq!(p(serde_json::json!(100)), Some(100));
        assert_eq!(p(serde_json::json!(250)), Some(100));
        assert_eq!(p(serde_json::json!(-3)), Some(0));
        assert_eq!(p(serde_json::json!("45")), Some(45));
        assert_eq!(p(serde_json::json!(" 45.5% ")), Some(45));
        assert_eq!(p(serde_json::json!("0.5")), Some(50));
        assert_eq!(p(serde_json::json!("soon")), None);
        assert_eq!(p(serde_json::json!(null)), None);
        assert_eq!(p(serde_json::json!([1])), None);
        assert_eq!(job_percent(&job(serde_json::json!({"status": "RUNNING", "entities": {}}))), None);
        assert_eq!(job_percent(&job(serde_json::json!({"status": "RUNNING"}))), None);
    }

    #[tokio::test]
    async fn consecutive_successes_are_required() {
        let timer = Arc::new(VirtualTimer::default());
        let c = client(timer.clone());
        let seq = ["ok", "pending", "ok", "ok", "ok"];
        let n = AtomicU32::new(0);
        let policy = WaitPolicy { consecutive_successes: 3, ..WaitPolicy::default() };
        let v = c
            .wait_until("x", &policy, || async {
                let i = n.fetch_add(1, Ordering::SeqCst) as usize;
                Ok(if seq[i] == "ok" { Probe::Ready(i) } else { Probe::Pending("p".into()) })
            })
            .await
            .unwrap();
        assert_eq!(v, 4);
    }
}
