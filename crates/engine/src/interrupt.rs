//! How a running build learns that the user wants it to stop. The process's signal handler (in
//! the binary) calls [`Interrupter::interrupt`]; build steps race their work against
//! [`Interrupt::cancelled`] and, once it fires, stop what they do and let cleanup run. Cleanup
//! itself never watches this: it must finish even while the user presses Ctrl-C again.

use std::sync::Arc;

use tokio::sync::watch;

/// Which signal stopped the build; decides the exit code (130 for SIGINT, 143 for SIGTERM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    /// The shell's convention: 128 + the signal number.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct State {
    /// How many interrupts were received (the first cancels, later ones only count).
    count: u32,
    first: Option<Signal>,
}

/// The sending side, held by the signal handler.
#[derive(Debug, Clone)]
pub struct Interrupter {
    tx: Arc<watch::Sender<State>>,
}

/// The receiving side, cloned into every build.
#[derive(Debug, Clone)]
pub struct Interrupt {
    rx: watch::Receiver<State>,
}

/// A connected pair; nothing is interrupted until [`Interrupter::interrupt`] is called.
pub fn channel() -> (Interrupter, Interrupt) {
    let (tx, rx) = watch::channel(State::default());
    (Interrupter { tx: Arc::new(tx) }, Interrupt { rx })
}

impl Interrupter {
    /// Records a signal; returns how many have been received so far (1 for the first).
    pub fn interrupt(&self, signal: Signal) -> u32 {
        let mut count = 0;
        self.tx.send_modify(|s| {
            s.count += 1;
            s.first.get_or_insert(signal);
            count = s.count;
        });
        count
    }
}

impl Interrupt {
    /// An `Interrupt` that never fires (for callers without a signal handler).
    pub fn never() -> Interrupt {
        channel().1
    }

    /// The first signal, once one was received.
    pub fn signal(&self) -> Option<Signal> {
        self.rx.borrow().first
    }

    pub fn is_interrupted(&self) -> bool {
        self.signal().is_some()
    }

    /// Resolves once a signal was received (at once if one already was). Never resolves when
    /// every `Interrupter` is gone without having sent one.
    pub async fn cancelled(&self) {
        let mut rx = self.rx.clone();
        if rx.wait_for(|s| s.first.is_some()).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn first_signal_cancels_and_decides_the_exit_code() {
        let (tx, rx) = channel();
        assert!(!rx.is_interrupted());
        let waiter = tokio::spawn({
            let rx = rx.clone();
            async move { rx.cancelled().await }
        });
        assert_eq!(tx.interrupt(Signal::Terminate), 1);
        assert_eq!(tx.interrupt(Signal::Interrupt), 2);
        tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap();
        assert_eq!(rx.signal(), Some(Signal::Terminate));
        assert_eq!(rx.signal().unwrap().exit_code(), 143);
    }

    #[tokio::test]
    async fn never_does_not_fire() {
        let rx = Interrupt::never();
        let r = tokio::time::timeout(Duration::from_millis(50), rx.cancelled()).await;
        assert!(r.is_err());
        assert!(!rx.is_interrupted());
    }
}
