//! The `localcloud` subcommand: `serve` runs the embedded local cloud in the foreground until it
//! is interrupted, printing one JSON line with its endpoints and keys when it is ready; `gc`
//! reclaims what sandboxes left behind when a local cloud was killed.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use cce_localcloud::{Config, LocalCloud, Profile, SandboxBackend, SandboxConfig};

/// Flags of `localcloud`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Serve the IAM, ECS, IMS and VPC/EIP APIs on four loopback ports.
    Serve(ServeArgs),
    /// Reclaim the namespaces, cgroups and processes of sandboxes left by a local cloud that
    /// was killed (run it only when no local cloud is running).
    Gc,
    /// Import a root tarball or a qcow2/raw/vhd disk as a private image (the local cloud on
    /// that state must not be running); prints the new image's id.
    ImportImage(ImportArgs),
    /// Export an image (id or name) as a qcow2, raw or vhd disk or a root tarball.
    Export(ExportArgs),
}

#[derive(clap::Args, Debug)]
struct ImportArgs {
    /// The tarball (.tar, .tar.gz, .tgz, .tar.xz) or disk file.
    file: PathBuf,
    /// Name of the new image [default: the file's name without its extension].
    #[arg(long)]
    name: Option<String>,
    /// Directory of the local cloud's state [default: as for `serve`].
    #[arg(long)]
    state: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct ExportArgs {
    /// Image id or name.
    image: String,
    /// qcow2, raw, vhd or tar.
    #[arg(long)]
    format: cce_sandbox::image::ExportFormat,
    /// Where to write it.
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// Directory of the local cloud's state [default: as for `serve`].
    #[arg(long)]
    state: Option<PathBuf>,
}

/// `--state`, else the embedded local cloud's directory (the one `build` uses).
fn state_dir(state: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match state {
        Some(s) => Ok(s),
        None => crate::embedded::state_dir(&|k| std::env::var(k).ok())
            .context("no --state given: pass --state DIR"),
    }
}

/// What runs the local cloud's servers.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Servers {
    /// Real machines: Linux sandboxes with systemd and sshd (needs root).
    Sandbox,
    /// Records only: nothing runs.
    Record,
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Address of the IAM listener; ECS, IMS and VPC take the next three ports. Port 0 picks
    /// four free ports.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Directory of the state file [default: $CCE_LOCALCLOUD_STATE, else
    /// /var/lib/cce-image-builder/localcloud for root, else
    /// $XDG_STATE_HOME/cce-image-builder/localcloud].
    #[arg(long)]
    state: Option<PathBuf>,
    /// Access key to accept (generated and kept in the state when absent).
    #[arg(long, requires = "secret_key")]
    access_key: Option<String>,
    /// Secret key of --access-key.
    #[arg(
        long,
        requires = "access_key",
        env = "CCE_LOCALCLOUD_SECRET_KEY",
        hide_env_values = true
    )]
    secret_key: Option<String>,
    /// Region name, which is also the project's name.
    #[arg(long, default_value = "ru-moscow-1")]
    region: String,
    /// Latency profile: `instant` (tests) or `realistic` (a build takes 3-5 minutes).
    #[arg(long, default_value = "instant")]
    profile: Profile,
    /// Multiplies every duration of the profile.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Most servers alive at once; more gives the ECS quota error.
    #[arg(long, default_value_t = 10)]
    max_servers: usize,
    /// JSON file of fault rules: {"faults":[{"op":"CreateImage","nth":1,"kind":"job_fail"}]}.
    #[arg(long)]
    faults: Option<PathBuf>,
    /// What runs servers [default: sandbox when running as root on a host that supports
    /// sandboxes, else record].
    #[arg(long, value_enum)]
    servers: Option<Servers>,
    /// Hosts the sandbox servers' package proxy (127.0.0.1:3128 inside each server) may reach,
    /// comma-separated: `host`, `host:port`, `[v6]:port`; a host without a port allows 80 and
    /// 443 [default: $CCE_LOCALCLOUD_PACKAGE_HOSTS, else this machine's Debian mirrors].
    #[arg(long, value_name = "HOSTS", conflicts_with = "no_package_proxy")]
    package_hosts: Option<String>,
    /// Give sandbox servers no package proxy, so no way out at all (as
    /// CCE_LOCALCLOUD_PACKAGE_PROXY=off).
    #[arg(long)]
    no_package_proxy: bool,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    match args.command {
        Command::Serve(a) => serve(a),
        Command::Gc => {
            let reclaimed = cce_sandbox::gc();
            if reclaimed.is_empty() {
                println!("nothing to reclaim");
            } else {
                for id in &reclaimed {
                    println!("reclaimed sandbox {id}");
                }
            }
            Ok(crate::exit::OK)
        }
        Command::ImportImage(a) => {
            let state = state_dir(a.state)?;
            let name = match a.name {
                Some(n) => n,
                None => a
                    .file
                    .file_name()
                    .map(|n| n.to_string_lossy().split('.').next().unwrap_or_default().to_string())
                    .filter(|n| !n.is_empty())
                    .context("the file has no name to name the image after: pass --name")?,
            };
            let config = SandboxConfig::new(&state, |k| std::env::var(k).ok());
            let id = cce_localcloud::sandbox_backend::import_image(&config, &a.file, &name)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("cannot import {}", a.file.display()))?;
            println!("{id}");
            Ok(crate::exit::OK)
        }
        Command::Export(a) => {
            let state = state_dir(a.state)?;
            let config = SandboxConfig::new(&state, |k| std::env::var(k).ok());
            cce_localcloud::sandbox_backend::export_image(&config, &a.image, a.format, &a.output)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("cannot export image `{}`", a.image))?;
            Ok(crate::exit::OK)
        }
    }
}

fn serve(a: ServeArgs) -> anyhow::Result<u8> {
    if !(a.scale.is_finite() && a.scale >= 0.0) {
        anyhow::bail!("--scale must be a non-negative number, got {}", a.scale);
    }
    let package_proxy = if a.no_package_proxy {
        None
    } else if let Some(hosts) = &a.package_hosts {
        Some(cce_sandbox::AllowList::parse(hosts).map_err(|e| anyhow::anyhow!("--package-hosts {hosts}: {e}"))?)
    } else {
        cce_localcloud::config::package_proxy_from_env(|k| std::env::var(k).ok()).map_err(anyhow::Error::msg)?
    };
    let state = state_dir(a.state)?;
    let mut config = Config::new(state.clone());
    config.listen = a.listen;
    config.access_key = a.access_key;
    config.secret_key = a.secret_key;
    config.region = a.region;
    config.profile = a.profile;
    config.scale = a.scale;
    config.max_servers = a.max_servers;
    if let Some(f) = &a.faults {
        config.faults = cce_localcloud::faults::load_file(f).map_err(anyhow::Error::msg)?;
    }
    let servers = match a.servers {
        Some(Servers::Sandbox) => {
            cce_sandbox::host_supports_sandboxes()
                .context("--servers sandbox cannot run here; use --servers record")?;
            if let Some(dir) = closed_ancestor(&state) {
                anyhow::bail!(
                    "--servers sandbox: {} is not searchable by others, so sandboxes cannot reach their disks under {}; chmod o+x it or pass --state under /var/lib",
                    dir.display(),
                    state.display()
                );
            }
            Servers::Sandbox
        }
        Some(Servers::Record) => Servers::Record,
        None if cce_sandbox::host_supports_sandboxes().is_ok() => match closed_ancestor(&state) {
            None => Servers::Sandbox,
            Some(dir) => {
                eprintln!(
                    "note: servers are records only: {} is not searchable by others, so sandboxes could not reach their disks under {} (chmod o+x it or pass --state under /var/lib)",
                    dir.display(),
                    state.display()
                );
                Servers::Record
            }
        },
        None => Servers::Record,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        // Listening starts before the ready line: a signal sent right after it must stop the
        // cloud cleanly, not kill the process.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot listen for SIGTERM")?;
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .context("cannot listen for Ctrl-C")?;
        let handle = match servers {
            Servers::Record => LocalCloud::start(config).await?,
            Servers::Sandbox => {
                let mut sandboxes = SandboxConfig::new(&config.state_dir, |k| std::env::var(k).ok());
                sandboxes.package_proxy = package_proxy;
                let backend = SandboxBackend::new(sandboxes, tokio::runtime::Handle::current());
                LocalCloud::start_with_backend(config, std::sync::Arc::new(backend)).await?
            }
        };
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", handle.ready_line()).context("cannot write the ready line")?;
            out.flush().context("cannot write the ready line")?;
        }
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        handle.shutdown().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(crate::exit::OK)
}

/// The first existing ancestor of `dir` that others cannot search (sandboxes run as other
/// users and must reach their disks inside it).
pub(crate) fn closed_ancestor(dir: &std::path::Path) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt as _;
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    absolute
        .ancestors()
        .skip(1)
        .find(|a| std::fs::metadata(a).is_ok_and(|m| m.mode() & 0o001 == 0))
        .map(PathBuf::from)
}

