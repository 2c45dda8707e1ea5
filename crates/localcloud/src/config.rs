//! How a local cloud is configured: where it listens, where it keeps its state, which keys it
//! accepts, how slow its asynchronous operations are and how many servers it allows. Pure data
//! plus the resolution of the default state directory from an injected environment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::faults::FaultRule;

/// How long asynchronous operations take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Every job finishes at once: for tests.
    Instant,
    /// Durations like the real cloud's (a server in 60-90 s, an image in 2-3 min).
    Realistic,
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "instant" => Ok(Profile::Instant),
            "realistic" => Ok(Profile::Realistic),
            other => Err(format!(
                "unknown latency profile `{other}`: use `instant` or `realistic`"
            )),
        }
    }
}

/// The durations of one profile, already scaled. Ranges are drawn uniformly per operation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latency {
    /// Time a job spends in INIT before RUNNING.
    pub job_queue: Duration,
    /// Server create: BUILD to ACTIVE.
    pub server_build: (Duration, Duration),
    /// Stop: ACTIVE to SHUTOFF.
    pub server_stop: (Duration, Duration),
    /// Start: SHUTOFF to ACTIVE.
    pub server_start: (Duration, Duration),
    /// Delete: until the server is gone.
    pub server_delete: (Duration, Duration),
    /// Image from a server: queued to active.
    pub image_create: (Duration, Duration),
    /// VPC CREATING to OK, subnet UNKNOWN to ACTIVE.
    pub network_create: Duration,
}

impl Latency {
    /// The durations of `profile`, multiplied by `scale` (negative or NaN scales count as 0).
    pub fn of(profile: Profile, scale: f64) -> Latency {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            0.0
        };
        let s = |secs: f64| Duration::from_secs_f64(secs * scale);
        match profile {
            Profile::Instant => Latency {
                job_queue: Duration::ZERO,
                server_build: (Duration::ZERO, Duration::ZERO),
                server_stop: (Duration::ZERO, Duration::ZERO),
                server_start: (Duration::ZERO, Duration::ZERO),
                server_delete: (Duration::ZERO, Duration::ZERO),
                image_create: (Duration::ZERO, Duration::ZERO),
                network_create: Duration::ZERO,
            },
            Profile::Realistic => Latency {
                job_queue: s(2.0),
                server_build: (s(60.0), s(90.0)),
                server_stop: (s(10.0), s(20.0)),
                server_start: (s(10.0), s(20.0)),
                server_delete: (s(10.0), s(20.0)),
                image_create: (s(120.0), s(180.0)),
                network_create: s(3.0),
            },
        }
    }
}

/// Draws a duration in `[lo, hi]`, in whole milliseconds.
pub(crate) fn draw(range: (Duration, Duration)) -> u64 {
    let lo = range.0.as_millis() as u64;
    let hi = range.1.as_millis() as u64;
    if hi <= lo {
        lo
    } else {
        rand::random_range(lo..=hi)
    }
}

/// Everything a local cloud needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address of the first listener (IAM). ECS, IMS and VPC take the next three ports; port 0
    /// lets the system pick four free ports.
    pub listen: SocketAddr,
    /// Directory of `state.json`.
    pub state_dir: PathBuf,
    /// Access key accepted; generated (and kept in the state) when `None`.
    pub access_key: Option<String>,
    /// Secret key of `access_key`; generated when `None`.
    pub secret_key: Option<String>,
    pub region: String,
    pub profile: Profile,
    /// Multiplies every duration of the profile.
    pub scale: f64,
    /// Most servers alive at once; more gives the ECS quota error.
    pub max_servers: usize,
    /// Faults armed from the start (from `--faults FILE`).
    pub faults: Vec<FaultRule>,
    /// First address of the pool elastic IPs are taken from, and how many it holds.
    pub eip_pool: (std::net::Ipv4Addr, u32),
    /// After this many consecutive signature failures of a known access key, the key is
    /// refused for `lockout` even with a good signature, as the gateway does. `None` disables.
    pub lock_after_failures: Option<u32>,
    pub lockout: Duration,
    /// Exact durations instead of the profile's, for tests that must see intermediate states.
    pub latency_override: Option<Latency>,
    /// Appends one JSON line per request to this file (service, method, path, decoded sorted
    /// query pairs, JSON body), so a client's calls can be compared with the official SDK's.
    pub request_log: Option<PathBuf>,
}

impl Config {
    /// A configuration with defaults: loopback, the given state directory, region
    /// `ru-moscow-1`, the instant profile, ten servers at most.
    pub fn new(state_dir: impl Into<PathBuf>) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_dir: state_dir.into(),
            access_key: None,
            secret_key: None,
            region: "ru-moscow-1".to_string(),
            profile: Profile::Instant,
            scale: 1.0,
            max_servers: 10,
            faults: Vec::new(),
            eip_pool: (std::net::Ipv4Addr::new(127, 100, 0, 10), 240),
            lock_after_failures: Some(5),
            lockout: Duration::from_secs(300),
            latency_override: None,
            request_log: None,
        }
    }

    /// A configuration with defaults and the default state directory read from `env`; `None`
    /// when the environment has neither `XDG_STATE_HOME` nor `HOME`.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Option<Config> {
        default_state_dir(env).map(Config::new)
    }

    /// The durations in force: `latency_override` if set, else the scaled profile.
    pub fn latency(&self) -> Latency {
        self.latency_override.unwrap_or_else(|| Latency::of(self.profile, self.scale))
    }
}

/// The environment variable that turns the sandboxes' package proxy `on` (the default) or `off`.
pub const PACKAGE_PROXY_VAR: &str = "CCE_LOCALCLOUD_PACKAGE_PROXY";
/// The environment variable that replaces the package proxy's allow-list (`host1,host2:8080`).
pub const PACKAGE_HOSTS_VAR: &str = "CCE_LOCALCLOUD_PACKAGE_HOSTS";

/// The package proxy of sandbox servers as the environment sets it: `None` when
/// `CCE_LOCALCLOUD_PACKAGE_PROXY=off`, else the hosts of `CCE_LOCALCLOUD_PACKAGE_HOSTS`, else the
/// hosts of this machine's Debian mirrors. A bad value is an error naming the variable.
pub fn package_proxy_from_env(
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<cce_sandbox::AllowList>, String> {
    let on = match env(PACKAGE_PROXY_VAR).map(|v| v.trim().to_ascii_lowercase()) {
        None => true,
        Some(v) => match v.as_str() {
            "" | "on" | "1" | "true" | "yes" => true,
            "off" | "0" | "false" | "no" => false,
            _ => {
                return Err(format!(
                    "{PACKAGE_PROXY_VAR}={v}: use `on` or `off`"
                ));
            }
        },
    };
    if !on {
        return Ok(None);
    }
    match env(PACKAGE_HOSTS_VAR) {
        Some(list) => cce_sandbox::AllowList::parse(&list)
            .map(Some)
            .map_err(|e| format!("{PACKAGE_HOSTS_VAR}={list}: {e}")),
        None => Ok(Some(cce_sandbox::AllowList::host_mirrors())),
    }
}

/// The default state directory: `$XDG_STATE_HOME/cce-image-builder/localcloud`, else
/// `$HOME/.local/state/cce-image-builder/localcloud`. `env` is the environment to read (injected
/// so tests need not touch the process's). `None` when neither variable is set.
pub fn default_state_dir(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = match env("XDG_STATE_HOME").filter(|v| !v.is_empty() && Path::new(v).is_absolute()) {
        Some(xdg) => PathBuf::from(xdg),
        None => PathBuf::from(env("HOME").filter(|v| !v.is_empty())?)
            .join(".local")
            .join("state"),
    };
    Some(base.join("cce-image-builder").join("localcloud"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dir_prefers_xdg_then_home() {
        let env = |k: &str| match k {
            "XDG_STATE_HOME" => Some("/x/state".to_string()),
            "HOME" => Some("/home/u".to_string()),
            _ => None,
        };
        assert_eq!(
            default_state_dir(env),
            Some(PathBuf::from("/x/state/cce-image-builder/localcloud"))
        );
        let env = |k: &str| (k == "HOME").then(|| "/home/u".to_string());
        assert_eq!(
            default_state_dir(env),
            Some(PathBuf::from(
                "/home/u/.local/state/cce-image-builder/localcloud"
            ))
        );
        // A relative XDG_STATE_HOME is invalid per the spec and ignored.
        let env = |k: &str| match k {
            "XDG_STATE_HOME" => Some("rel".to_string()),
            "HOME" => Some("/h".to_string()),
            _ => None,
        };
        assert_eq!(
            default_state_dir(env),
            Some(PathBuf::from(
                "/h/.local/state/cce-image-builder/localcloud"
            ))
        );
        assert_eq!(default_state_dir(|_| None), None);
    }

    #[test]
    fn package_proxy_settings_come_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let default = package_proxy_from_env(env(&[])).unwrap().expect("on by default");
        assert_eq!(default, cce_sandbox::AllowList::host_mirrors());
        assert_eq!(
            package_proxy_from_env(env(&[(PACKAGE_PROXY_VAR, "OFF"), (PACKAGE_HOSTS_VAR, "a.example")])).unwrap(),
            None
        );
        let hosts = package_proxy_from_env(env(&[(PACKAGE_PROXY_VAR, "on"), (PACKAGE_HOSTS_VAR, "A.example,b.example:8080")]))
            .unwrap()
            .expect("on");
        assert!(hosts.admits("a.example", 80) && hosts.admits("b.example", 8080));
        assert!(!hosts.admits("deb.debian.org", 80), "the list replaces the mirrors");
        let e = package_proxy_from_env(env(&[(PACKAGE_PROXY_VAR, "maybe")])).unwrap_err();
        assert!(e.starts_with("CCE_LOCALCLOUD_PACKAGE_PROXY=maybe") && e.contains("`on` or `off`"), "{e}");
        let e = package_proxy_from_env(env(&[(PACKAGE_HOSTS_VAR, "ok.example,bad host")])).unwrap_err();
        assert!(e.starts_with("CCE_LOCALCLOUD_PACKAGE_HOSTS=ok.example,bad host: `bad host`"), "{e}");
        let e = package_proxy_from_env(env(&[(PACKAGE_HOSTS_VAR, "")])).unwrap_err();
        assert!(e.contains("empty"), "{e}");
    }

    #[test]
    fn realistic_profile_scales() {
        let l = Latency::of(Profile::Realistic, 0.5);
        assert_eq!(
            l.server_build,
            (Duration::from_secs(30), Duration::from_secs(45))
        );
        let l = Latency::of(Profile::Realistic, f64::NAN);
        assert_eq!(l.server_build.1, Duration::ZERO);
        assert_eq!(
            Latency::of(Profile::Instant, 5.0).image_create.1,
            Duration::ZERO
        );
        let d = draw((Duration::from_millis(10), Duration::from_millis(20)));
        assert!((10..=20).contains(&d));
    }
}
