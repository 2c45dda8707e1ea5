//! Ctrl-C and SIGTERM during a build. The first signal asks the builds to stop and clean up
//! (through [`Interrupter::interrupt`]); cleanup then runs to its end even if more signals come.
//! A second signal only says how to stop at once; a third Ctrl-C exits with 130 right away,
//! leaving what is left in the cloud to `cce-image-builder cleanup <id>` (the build's journal is
//! fsync'd before every create call, so nothing is lost). A repeated SIGTERM never exits: the
//! supervisor that sent it will use SIGKILL if it stops waiting, and until then cleanup goes on.
//!
//! The decision is the pure function [`on_signal`]; [`install`] wires it to tokio's signal
//! streams.

// The build command installs the handler; until it is wired in, only the tests use it.
#![allow(dead_code)]

use cce_engine::interrupt::{Interrupter, Signal};
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;

/// What to do about one received signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The first signal: stop the builds and clean up.
    Interrupt(Signal),
    /// Cleanup is running: say how to stop now.
    Remind,
    /// Stop now without waiting for cleanup, with this exit code.
    Exit(i32),
}

/// Decides what the `count`-th signal (1 for the first) of kind `sig` does.
pub fn on_signal(count: u32, sig: Signal) -> Action {
    match (count, sig) {
        (0 | 1, _) => Action::Interrupt(sig),
        (2, _) | (_, Signal::Terminate) => Action::Remind,
        (_, Signal::Interrupt) => Action::Exit(i32::from(Signal::Interrupt.exit_code())),
    }
}

/// The message said for an action; `ids` are the ids of the builds started so far.
pub fn message(action: &Action, ids: &[String]) -> String {
    let cleanup = cleanup_commands(ids);
    match action {
        Action::Interrupt(_) => "Interrupt received: stopping and cleaning up".to_string(),
        Action::Remind => format!(
            "Cleanup is running; press Ctrl-C again to stop now and leave the rest to {cleanup}"
        ),
        Action::Exit(_) => format!(
            "Stopping now without finishing cleanup; the build's journal is kept: run {cleanup} to delete what is left"
        ),
    }
}

fn cleanup_commands(ids: &[String]) -> String {
    if ids.is_empty() {
        return "`cce-image-builder cleanup <build id>`".to_string();
    }
    ids.iter()
        .map(|id| format!("`cce-image-builder cleanup {id}`"))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Listens for SIGINT and SIGTERM on the current tokio runtime and acts as [`on_signal`]
/// decides: `say` prints the messages and must have written them when it returns (the third
/// Ctrl-C exits right after); through the command's reporter as
/// `Event::Warning { build: None, .. }` they are redacted, placed above a live view and written
/// at once. `build_ids` tells the ids of the builds started so far (for the
/// cleanup command to name). Must be called inside a tokio runtime. The returned task runs
/// until the runtime stops; tokio keeps the process's handlers installed after that, so Ctrl-C
/// no longer kills the process by default once this was called.
pub fn install(
    interrupter: Interrupter,
    say: impl Fn(&str) + Send + 'static,
    build_ids: impl Fn() -> Vec<String> + Send + 'static,
) -> anyhow::Result<JoinHandle<()>> {
    let mut interrupts = signal(SignalKind::interrupt())
        .map_err(|e| anyhow::anyhow!("cannot listen for Ctrl-C (SIGINT): {e}"))?;
    let mut terminates = signal(SignalKind::terminate())
        .map_err(|e| anyhow::anyhow!("cannot listen for SIGTERM: {e}"))?;
    Ok(tokio::spawn(async move {
        let mut count = 0u32;
        loop {
            let sig = tokio::select! {
                got = interrupts.recv() => match got {
                    Some(()) => Signal::Interrupt,
                    None => break,
                },
                got = terminates.recv() => match got {
                    Some(()) => Signal::Terminate,
                    None => break,
                },
            };
            count += 1;
            let action = on_signal(count, sig);
            say(&message(&action, &build_ids()));
            match action {
                Action::Interrupt(sig) => {
                    interrupter.interrupt(sig);
                }
                Action::Remind => {}
                Action::Exit(code) => std::process::exit(code),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_signal_interrupts_second_reminds_third_ctrl_c_exits() {
        assert_eq!(
            on_signal(1, Signal::Interrupt),
            Action::Interrupt(Signal::Interrupt)
        );
        assert_eq!(
            on_signal(1, Signal::Terminate),
            Action::Interrupt(Signal::Terminate)
        );
        assert_eq!(on_signal(2, Signal::Interrupt), Action::Remind);
        assert_eq!(on_signal(2, Signal::Terminate), Action::Remind);
        assert_eq!(on_signal(3, Signal::Interrupt), Action::Exit(130));
        assert_eq!(on_signal(7, Signal::Interrupt), Action::Exit(130));
        // A supervisor's repeated SIGTERM lets cleanup go on.
        assert_eq!(on_signal(3, Signal::Terminate), Action::Remind);
    }

    #[test]
    fn messages_name_the_cleanup_command_of_each_build() {
        let ids = vec!["20261125T165500Z-abc123".to_string()];
        assert_eq!(
            message(&Action::Interrupt(Signal::Interrupt), &ids),
            "Interrupt received: stopping and cleaning up"
        );
        assert_eq!(
            message(&Action::Remind, &ids),
            "Cleanup is running; press Ctrl-C again to stop now and leave the rest to `cce-image-builder cleanup 20261125T165500Z-abc123`"
        );
        let two = vec!["a-1".to_string(), "b-2".to_string()];
        assert!(
            message(&Action::Exit(130), &two).ends_with(
                "run `cce-image-builder cleanup a-1` and `cce-image-builder cleanup b-2` to delete what is left"
            )
        );
        assert!(message(&Action::Remind, &[]).ends_with("`cce-image-builder cleanup <build id>`"));
    }
}
