//! Upload progress: the observer a caller hands in, and the meter that feeds it from the copy
//! loop at most ten times a second plus once at the end.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Called with (bytes of file content sent so far, total bytes when known). Uploads know the
/// total up front: they add up the sizes of the files before sending anything.
pub type ProgressObserver = Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

/// Least time between two reports, so a fast link does not flood the observer.
const REPORT_EVERY: Duration = Duration::from_millis(100);

/// Throttles calls to an optional observer.
pub(crate) struct Meter {
    observer: Option<ProgressObserver>,
    total: Option<u64>,
    done: u64,
    last: Instant,
}

impl Meter {
    /// A meter that reports `(0, total)` at once, so a bar shows before the first chunk.
    pub(crate) fn start(observer: Option<ProgressObserver>, total: Option<u64>) -> Meter {
        if let Some(o) = &observer {
            o(0, total);
        }
        Meter {
            observer,
            total,
            done: 0,
            last: Instant::now(),
        }
    }

    /// Records that `done` bytes went out; reports if the last report is old enough.
    pub(crate) fn set(&mut self, done: u64) {
        self.done = done;
        let Some(o) = &self.observer else {
            return;
        };
        let now = Instant::now();
        if now.duration_since(self.last) >= REPORT_EVERY {
            self.last = now;
            o(done, self.total);
        }
    }

    /// Records `n` more bytes.
    pub(crate) fn add(&mut self, n: u64) {
        self.set(self.done + n);
    }

    #[cfg(test)]
    pub(crate) fn done(&self) -> u64 {
        self.done
    }

    /// The last report, with the final count.
    pub(crate) fn finish(&mut self) {
        if let Some(o) = &self.observer {
            o(self.done, self.total);
        }
    }
}

/// A `Read` that adds what it reads to a shared counter (content bytes, as opposed to the tar
/// framing around them).
pub(crate) struct CountingReader<R> {
    pub(crate) inner: R,
    pub(crate) counter: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    type Calls = Arc<Mutex<Vec<(u64, Option<u64>)>>>;

    fn recorder() -> (ProgressObserver, Calls) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let c = calls.clone();
        (Arc::new(move |d, t| c.lock().unwrap().push((d, t))), calls)
    }

    #[test]
    fn reports_at_start_throttled_and_at_the_end() {
        let (o, calls) = recorder();
        let mut m = Meter::start(Some(o), Some(1000));
        assert_eq!(*calls.lock().unwrap(), vec![(0, Some(1000))]);
        // A hundred quick updates: at most one report (two only if the machine stalled for
        // a whole interval in between), not a hundred.
        for i in 1..=100 {
            m.set(i);
        }
        assert!(
            calls.lock().unwrap().len() <= 3,
            "{:?}",
            calls.lock().unwrap()
        );
        std::thread::sleep(REPORT_EVERY + Duration::from_millis(10));
        m.add(400);
        m.finish();
        let calls = calls.lock().unwrap().clone();
        let n = calls.len();
        // Once the interval passed, the next update reports; the end reports the final count.
        assert_eq!(
            calls[n - 2..],
            [(500, Some(1000)), (500, Some(1000))],
            "{calls:?}"
        );
        assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0), "{calls:?}");
    }

    #[test]
    fn without_an_observer_it_only_counts() {
        let mut m = Meter::start(None, None);
        m.add(7);
        m.add(3);
        m.finish();
        assert_eq!(m.done(), 10);
    }

    #[test]
    fn counting_reader_counts_what_it_reads() {
        let counter = Arc::new(AtomicU64::new(0));
        let mut r = CountingReader {
            inner: &b"hello world"[..],
            counter: counter.clone(),
        };
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"hello world");
        assert_eq!(counter.load(Ordering::Relaxed), 11);
    }
}
