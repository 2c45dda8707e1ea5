//! A small program driven by the signal handler's tests (`tests/cli_signals.rs`): it installs
//! the handler of `src/signals.rs`, prints every message it says and what the build side sees,
//! then "cleans up" for the milliseconds given as its first argument and exits with the exit
//! code of the signal that stopped it, as a build does.

#[path = "../src/signals.rs"]
mod signals;

use std::process::ExitCode;
use std::time::Duration;

/// Longest wait for the first signal, so a test that never sends one cannot leave it running.
const WAIT_FOR_SIGNAL: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let cleanup_ms: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30_000);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cleanup_ms)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(cleanup_ms: u64) -> anyhow::Result<u8> {
    let (interrupter, interrupt) = cce_engine::interrupt::channel();
    signals::install(
        interrupter,
        |m| println!("say: {m}"),
        || vec!["20261125T165500Z-abc123".to_string()],
    )?;
    println!("ready");
    tokio::time::timeout(WAIT_FOR_SIGNAL, interrupt.cancelled())
        .await
        .map_err(|_| anyhow::anyhow!("no signal within {WAIT_FOR_SIGNAL:?}"))?;
    let Some(signal) = interrupt.signal() else {
        anyhow::bail!("cancelled without a signal");
    };
    println!("cancelled: {signal:?}");
    tokio::time::sleep(Duration::from_millis(cleanup_ms)).await;
    println!("cleanup finished");
    Ok(signal.exit_code())
}
