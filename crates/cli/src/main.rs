//! `cce-image-builder`: the command-line front of the project. It parses flags (Packer's
//! single-dash form and the double-dash form alike), sets up logging and hands each subcommand to
//! its own module under `commands/`. It holds no build logic.

mod argv;
mod embedded;
mod commands;
mod logging;
mod signals;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Exit codes shared by every subcommand.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The template is invalid, or the build failed.
    pub const FAILED: u8 = 1;
    /// Bad usage: unknown flag, missing argument.
    pub const USAGE: u8 = 2;
}

#[derive(Parser, Debug)]
#[command(
    name = "cce-image-builder",
    version,
    about = "Builds custom CCE node images from Packer HCL2 templates",
    long_about = "Builds custom CCE node images for Cloud.ru Advanced from Packer HCL2 templates \
(turbo-node.pkr.hcl), on the real cloud or on the embedded local cloud.\n\n\
Flags are accepted in Packer's single-dash form (-var, -on-error=abort) and in the double-dash form.",
    after_help = "Exit codes: 0 success, 1 invalid template or failed build, 2 bad usage, 3 fmt -check found changes, \
130 build stopped by Ctrl-C (SIGINT), 143 build stopped by SIGTERM (cleanup ran unless it was left to `cleanup`)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check that a template is valid (no network).
    Validate(commands::validate::Args),
    /// Show a template's variables, sources and provisioners.
    Inspect(commands::inspect::Args),
    /// Check `required_plugins` against the built-in builders (downloads nothing).
    Init(commands::init::Args),
    /// Evaluate HCL expressions against a template's variables and locals, as `packer console`.
    Console(commands::console::Args),
    /// Run the builds of a template: null sources, and huaweicloud-ecs on the cloud or the embedded local cloud.
    Build(commands::build::Args),
    /// Rewrite templates in Packer's canonical layout.
    Fmt(commands::fmt::Args),
    /// Print the version.
    Version(commands::version::Args),
    /// Run the embedded local cloud.
    Localcloud(commands::localcloud::Args),
    /// Check the huaweicloud-ecs sources against the cloud before building (creates nothing).
    Preflight(commands::preflight::Args),
    /// List the CCE node base images visible to the project (for `source_image`).
    BaseImages(commands::base_images::Args),
    /// Remove what a killed or failed build left in the cloud.
    Cleanup(commands::cleanup::Args),
    /// List the builds journaled on this machine and what each left.
    Builds(commands::builds::Args),
}

fn main() -> ExitCode {
    let args = argv::normalize(std::env::args_os().collect(), &Cli::command());
    let unknown = argv::unknown_single_dash(&args);
    let matches = match Cli::command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            // clap reads an unknown `-name` as short flags and names only its first letter.
            if e.kind() == clap::error::ErrorKind::UnknownArgument {
                if let Some(flag) = unknown {
                    eprintln!("error: unknown flag {flag}; the flags of each command are in its --help");
                    return ExitCode::from(exit::USAGE);
                }
            }
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { exit::OK });
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(exit::USAGE);
        }
    };
    // Kept for the whole run: it says where the debug log goes.
    let _log = match logging::setup(
        &logging::process_env(),
        &logging::process_cwd(),
        logging::redactor(),
    ) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: cannot set up the debug log: {e:#}");
            return ExitCode::from(exit::FAILED);
        }
    };
    let result = match cli.command {
        Command::Validate(a) => commands::validate::run(a),
        Command::Inspect(a) => commands::inspect::run(a),
        Command::Init(a) => commands::init::run(a),
        Command::Console(a) => commands::console::run(a),
        Command::Build(a) => commands::build::run(a),
        Command::Fmt(a) => commands::fmt::run(a),
        Command::Version(a) => commands::version::run(a),
        Command::Localcloud(a) => commands::localcloud::run(a),
        Command::Preflight(a) => commands::preflight::run(a),
        Command::BaseImages(a) => commands::base_images::run(a),
        Command::Cleanup(a) => commands::cleanup::run(a),
        Command::Builds(a) => commands::builds::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::FAILED)
        }
    }
}
