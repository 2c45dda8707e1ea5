//! One module per subcommand; each exposes `Args` (its flags) and `run`, which returns the exit code.

pub mod base_images;
pub mod build;
pub mod builds;
pub mod cleanup;
pub mod console;
pub mod fmt;
pub mod init;
pub mod inspect;
pub mod localcloud;
pub mod preflight;
pub mod validate;
pub mod version;
