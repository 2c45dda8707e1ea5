//! A token bucket that spaces the requests of one region's client (and all its clones), so a
//! build stays under the gateway's per-user throttling threshold instead of collecting 429s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::retry::Timer;

/// Requests per second and the burst allowed after a quiet period.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit { per_second: 20.0, burst: 20 }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The shared bucket; clones share it.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    bucket: Arc<tokio::sync::Mutex<Option<Bucket>>>,
    timer: Arc<dyn Timer>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit, timer: Arc<dyn Timer>) -> RateLimiter {
        RateLimiter { limit, bucket: Arc::new(tokio::sync::Mutex::new(None)), timer }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Waits for one token. A non-positive rate means no limit.
    pub async fn acquire(&self) {
        if self.limit.per_second <= 0.0 || !self.limit.per_second.is_finite() {
            return;
        }
        let burst = f64::from(self.limit.burst.max(1));
        // Holding the lock while sleeping keeps callers in arrival order.
        let mut guard = self.bucket.lock().await;
        let now = self.timer.now();
        let bucket = guard.get_or_insert(Bucket { tokens: burst, last: now });
        let refill = now.saturating_duration_since(bucket.last).as_secs_f64() * self.limit.per_second;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.last = now;
        if bucket.tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - bucket.tokens) / self.limit.per_second);
            self.timer.sleep(wait).await;
            bucket.tokens = 1.0;
            bucket.last = self.timer.now();
        }
        bucket.tokens -= 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::VirtualTimer;

    #[tokio::test]
    async fn bucket_allows_the_burst_then_spaces_requests() {
        let timer = Arc::new(VirtualTimer::default());
        let rl = RateLimiter::new(RateLimit { per_second: 10.0, burst: 3 }, timer.clone());
        let clone = rl.clone();
        for _ in 0..3 {
            rl.acquire().await;
        }
        assert_eq!(timer.elapsed(), Duration::ZERO);
        for _ in 0..5 {
            clone.acquire().await;
        }
        let e = timer.elapsed().as_secs_f64();
        assert!((e - 0.5).abs() < 1e-6, "5 requests past the burst at 10/s take 0.5 s, took {e}");
    }

    #[tokio::test]
    async fn quiet_period_refills_up_to_the_burst_only() {
        let timer = Arc::new(VirtualTimer::default());
        let rl = RateLimiter::new(RateLimit { per_second: 2.0, burst: 2 }, timer.clone());
        rl.acquire().await;
        rl.acquire().await;
        timer.sleep(Duration::from_secs(100)).await;
        let t0 = timer.elapsed();
        for _ in 0..3 {
            rl.acquire().await;
        }
        let took = (timer.elapsed() - t0).as_secs_f64();
        assert!((took - 0.5).abs() < 1e-6, "took {took}");
    }

    #[tokio::test]
    async fn zero_rate_is_unlimited() {
        let timer = Arc::new(VirtualTimer::default());
        let rl = RateLimiter::new(RateLimit { per_second: 0.0, burst: 1 }, timer.clone());
        for _ in 0..100 {
            rl.acquire().await;
        }
        assert_eq!(timer.elapsed(), Duration::ZERO);
    }
}
