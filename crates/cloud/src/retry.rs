//! Time and retries: the jittered exponential backoff used by every retry and waiter, and the
//! injectable `Timer` (clock + sleeper) so tests can run waits in virtual time.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A boxed future that can cross threads.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The clock and the sleeper of the cloud room.
pub trait Timer: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Instant;
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()>;
}

/// Real time through tokio.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioTimer;

impl Timer for TokioTimer {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// Virtual time: `sleep` returns at once and moves the clock forward, and every sleep is recorded.
/// For tests (here and in other crates) of waits, backoff and rate limits without waiting.
#[derive(Debug)]
pub struct VirtualTimer {
    start: Instant,
    state: Mutex<(Duration, Vec<Duration>)>,
}

impl Default for VirtualTimer {
    fn default() -> Self {
        VirtualTimer { start: Instant::now(), state: Mutex::new((Duration::ZERO, Vec::new())) }
    }
}

impl VirtualTimer {
    /// Virtual time elapsed so far.
    pub fn elapsed(&self) -> Duration {
        self.state.lock().map(|s| s.0).unwrap_or_default()
    }
    /// Every sleep asked for, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state.lock().map(|s| s.1.clone()).unwrap_or_default()
    }
}

impl Timer for VirtualTimer {
    fn now(&self) -> Instant {
        self.start + self.elapsed()
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        if let Ok(mut s) = self.state.lock() {
            s.0 += d;
            s.1.push(d);
        }
        Box::pin(tokio::task::yield_now())
    }
}

/// Jittered exponential backoff: attempt `n` waits a random time in `[b/2, b]` where
/// `b = min(cap, initial * 2^n)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub cap: Duration,
    /// Total tries of one call, the first included.
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { initial: Duration::from_millis(1500), cap: Duration::from_secs(30), max_attempts: 6 }
    }
}

impl Backoff {
    /// The upper bound of the delay before retry number `attempt` (0 = the first retry).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(30));
        self.initial.saturating_mul(factor).min(self.cap)
    }

    /// The delay for `attempt` with `unit` in `[0, 1)` choosing where in `[b/2, b]` it falls.
    pub fn delay_with(&self, attempt: u32, unit: f64) -> Duration {
        let b = self.ceiling(attempt);
        let half = b / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// The delay for `attempt` with a random jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with(attempt, rand::random_range(0.0..1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_and_stays_in_bounds() {
        let b = Backoff { initial: Duration::from_secs(1), cap: Duration::from_secs(30), max_attempts: 5 };
        assert_eq!(b.ceiling(0), Duration::from_secs(1));
        assert_eq!(b.ceiling(3), Duration::from_secs(8));
        assert_eq!(b.ceiling(10), Duration::from_secs(30));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(30));
        assert_eq!(b.delay_with(2, 0.0), Duration::from_secs(2));
        assert_eq!(b.delay_with(2, 1.0), Duration::from_secs(4));
        for attempt in 0..12 {
            for _ in 0..50 {
                let d = b.delay(attempt);
                assert!(d >= b.ceiling(attempt) / 2 && d <= b.ceiling(attempt), "{attempt}: {d:?}");
            }
        }
        // Jitter actually varies.
        let spread: std::collections::HashSet<_> = (0..20).map(|_| b.delay(4)).collect();
        assert!(spread.len() > 1);
    }

    #[tokio::test]
    async fn virtual_timer_advances_without_waiting() {
        let t = VirtualTimer::default();
        let real = Instant::now();
        let before = t.now();
        t.sleep(Duration::from_secs(3600)).await;
        assert_eq!(t.now() - before, Duration::from_secs(3600));
        assert_eq!(t.sleeps(), vec![Duration::from_secs(3600)]);
        assert!(real.elapsed() < Duration::from_secs(1));
    }
}
