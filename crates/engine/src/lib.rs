//! The build engine: runs the steps of a source with a crash-safe ledger of created resources,
//! the provisioners with Packer's semantics, and cleanup. It parses no HCL and signs no requests.
//!
//! Foundations every build step uses:
//! - [`ledger`]: the per-build journal, written and fsync'd before each cloud create call, so
//!   cleanup finds every resource even after the process was killed;
//! - [`redact`]: the one secret filter every output goes through, covering encoded forms;
//! - [`events`]: the build's event model and its sinks (JSON lines, Packer's machine-readable
//!   CSV, plain text);
//! - [`logsink`]: `PACKER_LOG` / `PACKER_LOG_PATH` debug logging through the redactor;
//! - [`tty`]: the live terminal view and the choice of sink for a command.
//! - [`remover`]: removes what a build left, over the `Cloud` trait, and sweeps for strays.

pub mod comm;
pub mod dry_run;
pub mod ecs_build;
pub mod events;
pub mod interrupt;
pub mod ledger;
pub mod logsink;
pub mod null_build;
pub mod postprocess;
pub mod preflight;
pub mod provision;
pub mod redact;
pub mod tty;
pub mod remover;
