//! The local cloud's state: every resource of the one project it serves, the timed transitions
//! of their state machines, and its persistence (one JSON file, written atomically, reloaded on
//! restart). Times are Unix milliseconds so that transitions survive a restart.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Version of the state file's layout.
pub const STATE_VERSION: u32 = 1;
/// Name of the state file inside the state directory.
pub const STATE_FILE: &str = "state.json";

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `2024-01-01T12:00:00Z`.
pub fn iso(ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp((ms / 1000) as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `2024-01-01T12:00:00.123Z`, the form of job times.
pub fn iso_millis(ms: u64) -> String {
    let s = iso(ms);
    format!("{}.{:03}Z", &s[..s.len() - 1], ms % 1000)
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A pending change of a resource's status at a given time.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Transition {
    pub at: u64,
    pub status: String,
    /// The resource is removed when the transition happens (deletion).
    #[serde(default)]
    pub remove: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Vpc {
    pub id: String,
    pub name: String,
    pub cidr: String,
    pub description: String,
    pub status: String,
    pub transition: Option<Transition>,
    pub created: u64,
    /// Made by the local cloud at first start, not by a caller.
    pub builtin: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Subnet {
    /// The VPC-v1 id, which is also the neutron network id.
    pub id: String,
    pub neutron_subnet_id: String,
    pub name: String,
    pub cidr: String,
    pub gateway_ip: String,
    pub vpc_id: String,
    pub availability_zone: String,
    pub dns_list: Vec<String>,
    pub status: String,
    pub transition: Option<Transition>,
    pub created: u64,
    pub builtin: bool,
    /// Last host number handed out in the CIDR.
    pub last_host: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    pub vpc_id: String,
    pub created: u64,
    pub builtin: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SgRule {
    pub id: String,
    pub security_group_id: String,
    pub description: String,
    pub direction: String,
    pub ethertype: String,
    /// `None` means every protocol.
    pub protocol: Option<String>,
    pub port_range_min: Option<u32>,
    pub port_range_max: Option<u32>,
    /// The v3 form of the ports (`22`, `1-30`, `22,80`), kept as given.
    pub multiport: Option<String>,
    pub remote_ip_prefix: Option<String>,
    pub remote_group_id: Option<String>,
    pub action: String,
    pub priority: u32,
    pub created: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Keypair {
    pub name: String,
    pub public_key: String,
    pub fingerprint: String,
    pub created: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Eip {
    pub id: String,
    pub address: String,
    pub kind: String,
    pub status: String,
    pub port_id: Option<String>,
    pub private_ip: Option<String>,
    pub bandwidth_id: String,
    pub bandwidth_name: String,
    pub bandwidth_size: u32,
    pub bandwidth_share_type: String,
    pub charge_mode: String,
    pub alias: Option<String>,
    pub created: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Server {
    pub id: String,
    pub name: String,
    pub status: String,
    /// `OS-EXT-STS:task_state` while a transition is under way.
    pub task_state: Option<String>,
    pub transition: Option<Transition>,
    pub flavor_id: String,
    pub image_id: String,
    pub availability_zone: String,
    pub vpc_id: String,
    pub subnet_id: String,
    pub private_ip: String,
    pub mac: String,
    pub port_id: String,
    pub volume_id: String,
    pub root_volume_type: String,
    pub root_volume_size: u32,
    /// Data volumes in device order (`/dev/vdb`, …); states written before they existed have none.
    #[serde(default)]
    pub data_volumes: Vec<DataVolume>,
    pub eip_id: Option<String>,
    /// The EIP was created with the server and goes with it.
    pub eip_delete_on_termination: bool,
    pub key_name: Option<String>,
    pub security_groups: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub tags: Vec<String>,
    pub description: String,
    pub fault: Option<String>,
    pub created: u64,
    pub updated: u64,
    pub launched: Option<u64>,
    /// Set by a delete call: release (true) or only unbind (false) the EIP.
    pub delete_publicip: bool,
}

/// A data volume of a server. EVS is not emulated: a volume exists only as a server's disk.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DataVolume {
    pub id: String,
    pub volume_type: String,
    /// GB.
    pub size: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Image {
    pub id: String,
    pub name: String,
    pub description: String,
    pub status: String,
    /// queued → saving at this time.
    pub saving_at: u64,
    /// saving → `final_status` at this time.
    pub done_at: u64,
    pub final_status: String,
    pub source_server: String,
    pub source_image: String,
    pub min_disk: u32,
    pub min_ram: u32,
    pub size_bytes: u64,
    pub tags: Vec<(String, String)>,
    pub members: Vec<Member>,
    pub os_version: String,
    pub platform: String,
    pub created: u64,
    pub updated: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Member {
    pub project_id: String,
    pub status: String,
    pub created: u64,
    pub updated: u64,
}

/// One sub-job of an ECS job, about one server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubJob {
    pub id: String,
    pub job_type: String,
    pub server_id: String,
    pub fail: Option<(String, String)>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum JobEntities {
    Servers(Vec<SubJob>),
    Image {
        image_id: String,
        image_name: String,
    },
    Members {
        images: Vec<String>,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    /// `ecs` or `ims`: each service sees only its own jobs.
    pub service: String,
    pub job_type: String,
    pub begin: u64,
    pub run_at: u64,
    pub done_at: u64,
    /// `(error_code, fail_reason)` when the job ends in FAIL.
    pub fail: Option<(String, String)>,
    pub entities: JobEntities,
}

impl Job {
    /// INIT, RUNNING, then SUCCESS or FAIL, by time.
    pub fn status(&self, now: u64) -> &'static str {
        if now < self.run_at {
            "INIT"
        } else if now < self.done_at {
            "RUNNING"
        } else if self.fail.is_some() {
            "FAIL"
        } else {
            "SUCCESS"
        }
    }
}

/// The whole persisted state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct World {
    pub version: u32,
    pub project_id: String,
    pub domain_id: String,
    /// Keys generated at first start, reused on restart unless keys are given.
    pub access_key: String,
    pub secret_key: String,
    pub next_eip: u32,
    /// The host loopback block (`127.10.n.0/24` fixed IPs, `127.100.n.10`… EIPs) this cloud
    /// uses; `None` (and states written before blocks existed) is block 0.
    #[serde(default)]
    pub address_block: Option<u8>,
    pub vpcs: BTreeMap<String, Vpc>,
    pub subnets: BTreeMap<String, Subnet>,
    pub security_groups: BTreeMap<String, SecurityGroup>,
    pub rules: BTreeMap<String, SgRule>,
    pub keypairs: BTreeMap<String, Keypair>,
    pub eips: BTreeMap<String, Eip>,
    pub servers: BTreeMap<String, Server>,
    pub images: BTreeMap<String, Image>,
    pub jobs: BTreeMap<String, Job>,
}

/// Why the state could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot create state directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}:{column}: state file is not valid ({message}); move it away to start from an empty cloud"
    )]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{path}: state file version {found} is not supported (expected {STATE_VERSION}); move it away to start from an empty cloud"
    )]
    Version { path: PathBuf, found: u32 },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode the state: {0}")]
    Encode(String),
}

fn random_token(len: usize, alphabet: &[u8]) -> String {
    (0..len)
        .map(|_| alphabet[rand::random_range(0..alphabet.len())] as char)
        .collect()
}

/// A fresh access key: 20 upper-case letters and digits, like the real ones.
pub fn generate_access_key() -> String {
    random_token(20, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
}

/// A fresh secret key: 40 letters and digits.
pub fn generate_secret_key() -> String {
    random_token(
        40,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    )
}

/// The built-in network is on loopback so that a server's fixed IP reaches its sshd from the host.
pub const DEFAULT_VPC_CIDR: &str = "127.10.0.0/16";
pub const DEFAULT_SUBNET_CIDR: &str = "127.10.0.0/24";
/// Name of the security group that admits SSH.
pub const SG_DEFAULT: &str = "default";
/// Name of the security group that does not admit SSH (for pre-flight checks).
pub const SG_NO_SSH: &str = "sg-no-ssh";

impl World {
    /// The Neutron subnet id of a server's subnet, which the NIC and port views name (empty if
    /// the subnet is gone).
    pub fn neutron_subnet_of(&self, server: &Server) -> String {
        self.subnets
            .get(&server.subnet_id)
            .map(|n| n.neutron_subnet_id.clone())
            .unwrap_or_default()
    }

    /// A new cloud: one project, a default VPC with one subnet, a security group admitting SSH
    /// and one that does not.
    pub fn fresh(now: u64) -> World {
        let mut w = World {
            version: STATE_VERSION,
            project_id: uuid::Uuid::new_v4().simple().to_string(),
            domain_id: uuid::Uuid::new_v4().simple().to_string(),
            access_key: generate_access_key(),
            secret_key: generate_secret_key(),
            next_eip: 0,
            address_block: None,
            vpcs: BTreeMap::new(),
            subnets: BTreeMap::new(),
            security_groups: BTreeMap::new(),
            rules: BTreeMap::new(),
            keypairs: BTreeMap::new(),
            eips: BTreeMap::new(),
            servers: BTreeMap::new(),
            images: BTreeMap::new(),
            jobs: BTreeMap::new(),
        };
        let vpc_id = new_id();
        w.vpcs.insert(
            vpc_id.clone(),
            Vpc {
                id: vpc_id.clone(),
                name: "vpc-default".into(),
                cidr: DEFAULT_VPC_CIDR.into(),
                description: "default network of the local cloud".into(),
                status: "OK".into(),
                transition: None,
                created: now,
                builtin: true,
            },
        );
        let subnet_id = new_id();
        w.subnets.insert(
            subnet_id.clone(),
            Subnet {
                id: subnet_id,
                neutron_subnet_id: new_id(),
                name: "subnet-default".into(),
                cidr: DEFAULT_SUBNET_CIDR.into(),
                gateway_ip: "127.10.0.1".into(),
                vpc_id: vpc_id.clone(),
                availability_zone: "ru-moscow-1a".into(),
                dns_list: vec!["100.125.13.59".into(), "8.8.8.8".into()],
                status: "ACTIVE".into(),
                transition: None,
                created: now,
                builtin: true,
                last_host: 1,
            },
        );
        for (name, ssh) in [(SG_DEFAULT, true), (SG_NO_SSH, false)] {
            let sg_id = new_id();
            w.security_groups.insert(
                sg_id.clone(),
                SecurityGroup {
                    id: sg_id.clone(),
                    name: name.into(),
                    description: if ssh {
                        "admits SSH from anywhere".into()
                    } else {
                        "admits HTTPS only".into()
                    },
                    vpc_id: vpc_id.clone(),
                    created: now,
                    builtin: true,
                },
            );
            let port = if ssh { 22 } else { 443 };
            let ingress = SgRule {
                id: new_id(),
                security_group_id: sg_id.clone(),
                description: String::new(),
                direction: "ingress".into(),
                ethertype: "IPv4".into(),
                protocol: Some("tcp".into()),
                port_range_min: Some(port),
                port_range_max: Some(port),
                multiport: Some(port.to_string()),
                remote_ip_prefix: Some("0.0.0.0/0".into()),
                remote_group_id: None,
                action: "allow".into(),
                priority: 1,
                created: now,
            };
            let egress = SgRule {
                id: new_id(),
                direction: "egress".into(),
                protocol: None,
                port_range_min: None,
                port_range_max: None,
                multiport: None,
                ..ingress.clone()
            };
            w.rules.insert(ingress.id.clone(), ingress);
            w.rules.insert(egress.id.clone(), egress);
        }
        w
    }

    /// Applies every transition due at `now`, with a backend that is always done.
    pub fn advance(&mut self, now: u64) -> Vec<String> {
        self.advance_with(now, &crate::backend::RecordOnly)
    }

    /// Applies every transition due at `now`. A server reaching ACTIVE or SHUTOFF and an image
    /// finishing wait until `backend` reports its work done; a failure ends them in ERROR or
    /// `killed`. Returns the ids of servers that disappeared, so the caller can tell the backend.
    pub fn advance_with(&mut self, now: u64, backend: &dyn crate::backend::ServerBackend) -> Vec<String> {
        use crate::backend::Progress;
        if let Some(block) = backend.address_block() {
            self.adopt_address_block(block);
        }
        for s in self.servers.values() {
            backend.set_ssh_ingress(&s.id, self.ssh_ingress(&s.security_groups));
        }
        for v in self.vpcs.values_mut() {
            if let Some(t) = v.transition.take_if(|t| t.at <= now) {
                v.status = t.status;
            }
        }
        for s in self.subnets.values_mut() {
            if let Some(t) = s.transition.take_if(|t| t.at <= now) {
                s.status = t.status;
            }
        }
        let mut gone = Vec::new();
        for s in self.servers.values_mut() {
            let Some(t) = s.transition.clone().filter(|t| t.at <= now) else {
                continue;
            };
            let mut status = t.status.clone();
            if !t.remove && (status == "ACTIVE" || status == "SHUTOFF") {
                match backend.progress(&s.id, &status) {
                    Progress::Done => {}
                    Progress::Pending => continue,
                    Progress::Failed(reason) => {
                        status = "ERROR".into();
                        s.fault = Some(reason);
                    }
                }
            }
            s.transition = None;
            s.task_state = None;
            s.updated = t.at;
            if t.remove {
                gone.push(s.id.clone());
            } else {
                if status == "ACTIVE" && s.launched.is_none() {
                    s.launched = Some(t.at);
                }
                s.status = status;
            }
        }
        for id in &gone {
            if let Some(s) = self.servers.remove(id) {
                if let Some(eip_id) = s.eip_id {
                    if s.delete_publicip || s.eip_delete_on_termination {
                        self.eips.remove(&eip_id);
                    } else if let Some(e) = self.eips.get_mut(&eip_id) {
                        e.status = "DOWN".into();
                        e.port_id = None;
                        e.private_ip = None;
                    }
                }
            }
        }
        for i in self.images.values_mut() {
            if i.status == "queued" && now >= i.saving_at {
                i.status = "saving".into();
                i.updated = i.saving_at;
            }
            if i.status == "saving" && now >= i.done_at {
                let status = if i.final_status == "active" {
                    match backend.capture_progress(&i.id) {
                        Progress::Done => Some(i.final_status.clone()),
                        Progress::Pending => None,
                        Progress::Failed(_) => Some("killed".to_string()),
                    }
                } else {
                    Some(i.final_status.clone())
                };
                if let Some(status) = status {
                    i.status = status;
                    i.updated = i.done_at;
                }
            }
        }
        // Finished jobs are kept a day, as the real services do.
        self.jobs
            .retain(|_, j| now < j.done_at.saturating_add(24 * 3600 * 1000));
        gone
    }

    /// The next private address of `subnet_id`.
    pub fn allocate_private_ip(&mut self, subnet_id: &str) -> Option<String> {
        let subnet = self.subnets.get_mut(subnet_id)?;
        let (base, prefix) = parse_cidr(&subnet.cidr)?;
        let hosts = if prefix >= 31 {
            0
        } else {
            (1u32 << (32 - prefix)) - 2
        };
        let used: std::collections::HashSet<String> = self
            .servers
            .values()
            .filter(|s| s.subnet_id == subnet_id)
            .map(|s| s.private_ip.clone())
            .collect();
        for step in 1..=hosts {
            let host = (subnet.last_host % hosts.max(1)) + 1;
            subnet.last_host = host;
            let _ = step;
            let addr = std::net::Ipv4Addr::from(u32::from(base) + host).to_string();
            if addr != subnet.gateway_ip && !used.contains(&addr) {
                return Some(addr);
            }
        }
        None
    }

    /// The ingress rules of `groups` that concern SSH: IPv4, TCP (or every protocol), port 22
    /// in range, from an address prefix. Rules naming a remote group are left out: the host that
    /// connects is in no group.
    pub fn ssh_ingress(&self, groups: &[String]) -> Vec<crate::backend::IngressRule> {
        self.rules
            .values()
            .filter(|r| groups.contains(&r.security_group_id))
            .filter(|r| r.direction == "ingress" && (r.ethertype.is_empty() || r.ethertype.eq_ignore_ascii_case("IPv4")))
            .filter(|r| r.protocol.as_deref().is_none_or(|p| p.eq_ignore_ascii_case("tcp") || p.eq_ignore_ascii_case("any")))
            .filter(|r| rule_covers_port(r, 22))
            .filter(|r| r.remote_group_id.as_deref().is_none_or(str::is_empty))
            .filter_map(|r| {
                let prefix = r.remote_ip_prefix.as_deref().filter(|p| !p.is_empty()).unwrap_or("0.0.0.0/0");
                let (network, prefix_len) = if prefix.contains('/') {
                    parse_cidr(prefix)?
                } else {
                    (prefix.parse().ok()?, 32)
                };
                Some(crate::backend::IngressRule {
                    network,
                    prefix_len,
                    allow: r.action != "deny",
                    priority: r.priority,
                })
            })
            .collect()
    }

    /// Moves this cloud to loopback block `block`: the built-in subnet becomes `127.10.n.0/24`
    /// (unless servers already have addresses in it, which they keep) and EIPs come from
    /// `127.100.n.10` onwards.
    pub fn adopt_address_block(&mut self, block: u8) {
        self.address_block = Some(block);
        let cidr = format!("127.10.{block}.0/24");
        let in_use: std::collections::HashSet<&str> = self.servers.values().map(|s| s.subnet_id.as_str()).collect();
        for s in self.subnets.values_mut() {
            if s.builtin && s.cidr != cidr && !in_use.contains(s.id.as_str()) {
                s.cidr = cidr.clone();
                s.gateway_ip = format!("127.10.{block}.1");
                s.last_host = 1;
            }
        }
    }

    /// The next address of the EIP pool not in use; the pool is shifted into this cloud's
    /// address block (`127.100.0.10` → `127.100.n.10`).
    pub fn allocate_eip(&mut self, pool: (std::net::Ipv4Addr, u32)) -> Option<String> {
        let used: std::collections::HashSet<&str> =
            self.eips.values().map(|e| e.address.as_str()).collect();
        let base = u32::from(pool.0).wrapping_add(u32::from(self.address_block.unwrap_or(0)) << 8);
        for _ in 0..pool.1 {
            let n = self.next_eip % pool.1.max(1);
            self.next_eip = self.next_eip.wrapping_add(1);
            let addr = std::net::Ipv4Addr::from(base.wrapping_add(n)).to_string();
            if !used.contains(addr.as_str()) {
                return Some(addr);
            }
        }
        None
    }
}

/// Whether a rule's ports (`multiport` `22`, `1-30`, `22,80`, else the min/max range; none
/// means all) include `port`.
fn rule_covers_port(r: &SgRule, port: u32) -> bool {
    if let Some(m) = r.multiport.as_deref().filter(|m| !m.trim().is_empty()) {
        return m.split(',').any(|part| {
            let part = part.trim();
            match part.split_once('-') {
                Some((a, b)) => match (a.trim().parse::<u32>(), b.trim().parse::<u32>()) {
                    (Ok(a), Ok(b)) => (a..=b).contains(&port),
                    _ => false,
                },
                None => part.parse::<u32>() == Ok(port),
            }
        });
    }
    let min = r.port_range_min.unwrap_or(1);
    let max = r.port_range_max.unwrap_or(65535);
    (min..=max).contains(&port)
}

/// `a.b.c.d/n` → (network address, n).
pub fn parse_cidr(cidr: &str) -> Option<(std::net::Ipv4Addr, u32)> {
    let (addr, prefix) = cidr.split_once('/')?;
    let addr: std::net::Ipv4Addr = addr.parse().ok()?;
    let prefix: u32 = prefix.parse().ok().filter(|p| *p <= 32)?;
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    Some((std::net::Ipv4Addr::from(u32::from(addr) & mask), prefix))
}

/// Where the state lives on disk.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: &Path) -> Store {
        Store {
            dir: dir.to_path_buf(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// Loads the state, or `None` when there is none yet.
    pub fn load(&self) -> Result<Option<World>, StateError> {
        let path = self.path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Read { path, source }),
        };
        let version = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("version").and_then(|v| v.as_u64()));
        if let Some(found) = version.filter(|v| *v != u64::from(STATE_VERSION)) {
            return Err(StateError::Version {
                path,
                found: found as u32,
            });
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StateError::Parse {
                path,
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })
    }

    /// Writes `bytes` as the state: a temporary file in the same directory, fsync, rename, then
    /// fsync of the directory, so a crash leaves either the old or the new state.
    pub fn save_bytes(&self, bytes: &[u8]) -> Result<(), StateError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| StateError::CreateDir {
            path: self.dir.clone(),
            source,
        })?;
        let path = self.path();
        let tmp = self.dir.join(format!(
            ".{STATE_FILE}.{}.tmp",
            uuid::Uuid::new_v4().simple()
        ));
        let write = || -> std::io::Result<()> {
            use std::os::unix::fs::OpenOptionsExt;
            // The state holds the secret key: readable by its owner only.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            StateError::Write {
                path: path.clone(),
                source,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_world_has_ssh_and_no_ssh_groups() {
        let w = World::fresh(1000);
        assert_eq!(w.vpcs.len(), 1);
        assert_eq!(w.subnets.len(), 1);
        let names: Vec<_> = w
            .security_groups
            .values()
            .map(|g| g.name.as_str())
            .collect();
        assert!(names.contains(&SG_DEFAULT) && names.contains(&SG_NO_SSH));
        let ssh_rules = w
            .rules
            .values()
            .filter(|r| r.port_range_min == Some(22) && r.direction == "ingress")
            .count();
        assert_eq!(ssh_rules, 1);
        assert_eq!(w.access_key.len(), 20);
        assert_eq!(w.secret_key.len(), 40);
    }

    #[test]
    fn private_ips_skip_gateway_and_used() {
        let mut w = World::fresh(0);
        let sid = w.subnets.keys().next().unwrap().clone();
        assert_eq!(w.allocate_private_ip(&sid).as_deref(), Some("127.10.0.2"));
        assert_eq!(w.allocate_private_ip(&sid).as_deref(), Some("127.10.0.3"));
    }

    #[test]
    fn an_address_block_moves_fixed_ips_and_eips_unless_servers_hold_them() {
        let mut w = World::fresh(0);
        let sid = w.subnets.keys().next().unwrap().clone();
        let pool = (std::net::Ipv4Addr::new(127, 100, 0, 10), 240);
        w.adopt_address_block(7);
        assert_eq!(w.subnets[&sid].cidr, "127.10.7.0/24");
        assert_eq!(w.subnets[&sid].gateway_ip, "127.10.7.1");
        assert_eq!(w.allocate_private_ip(&sid).as_deref(), Some("127.10.7.2"));
        assert_eq!(w.allocate_eip(pool).as_deref(), Some("127.100.7.10"));
        assert_eq!(w.allocate_eip(pool).as_deref(), Some("127.100.7.11"));
        // A server on the subnet keeps the subnet where it is.
        let json = serde_json::json!({
            "id": "s1", "name": "s1", "status": "ACTIVE", "task_state": null, "transition": null,
            "flavor_id": "f", "image_id": "i", "availability_zone": "a", "vpc_id": "v",
            "subnet_id": sid, "private_ip": "127.10.7.2", "mac": "m", "port_id": "p",
            "volume_id": "vol", "root_volume_type": "SSD", "root_volume_size": 40, "eip_id": null,
            "eip_delete_on_termination": false, "key_name": null, "security_groups": [],
            "metadata": {}, "tags": [], "description": "", "fault": null, "created": 0,
            "updated": 0, "launched": null, "delete_publicip": false
        });
        w.servers.insert("s1".into(), serde_json::from_value(json).unwrap());
        w.adopt_address_block(9);
        assert_eq!(w.subnets[&sid].cidr, "127.10.7.0/24");
        assert_eq!(w.allocate_eip(pool).as_deref(), Some("127.100.9.12"));
        w.servers.clear();
        w.adopt_address_block(9);
        assert_eq!(w.subnets[&sid].cidr, "127.10.9.0/24");
    }

    #[test]
    fn ssh_ingress_reads_the_groups_rules() {
        let w = World::fresh(0);
        let id_of = |name: &str| w.security_groups.values().find(|g| g.name == name).unwrap().id.clone();
        let open = w.ssh_ingress(&[id_of(SG_DEFAULT)]);
        assert_eq!(open.len(), 1);
        assert!(crate::backend::ssh_admits(&open, std::net::Ipv4Addr::new(127, 0, 0, 1)));
        assert!(w.ssh_ingress(&[id_of(SG_NO_SSH)]).is_empty(), "sg-no-ssh admits no SSH");
        let mut r = w.rules.values().next().unwrap().clone();
        r.multiport = Some("20-23,443".into());
        assert!(rule_covers_port(&r, 22));
        r.multiport = Some("80, 443".into());
        assert!(!rule_covers_port(&r, 22));
        r.multiport = None;
        r.port_range_min = None;
        r.port_range_max = None;
        assert!(rule_covers_port(&r, 22), "no ports means all");
    }

    #[test]
    fn job_status_follows_time() {
        let j = Job {
            id: "j".into(),
            service: "ecs".into(),
            job_type: "createServers".into(),
            begin: 0,
            run_at: 10,
            done_at: 20,
            fail: None,
            entities: JobEntities::Servers(vec![]),
        };
        assert_eq!(j.status(5), "INIT");
        assert_eq!(j.status(10), "RUNNING");
        assert_eq!(j.status(20), "SUCCESS");
        let f = Job {
            fail: Some(("Ecs.0002".into(), "x".into())),
            ..j
        };
        assert_eq!(f.status(25), "FAIL");
    }

    #[test]
    fn save_is_atomic_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        assert!(store.load().unwrap().is_none());
        let w = World::fresh(0);
        store.save_bytes(&serde_json::to_vec(&w).unwrap()).unwrap();
        let back = store.load().unwrap().unwrap();
        assert_eq!(back.project_id, w.project_id);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(store.path())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        std::fs::write(store.path(), "{\"version\": 1,\n \"project_id\": 3}").unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("state.json:2:"), "{err}");
        std::fs::write(store.path(), "{\"version\": 9}").unwrap();
        assert!(store.load().unwrap_err().to_string().contains("version 9"));
    }

    #[test]
    fn iso_formats() {
        assert_eq!(iso(1_704_110_400_123), "2024-01-01T12:00:00Z");
        assert_eq!(iso_millis(1_704_110_400_123), "2024-01-01T12:00:00.123Z");
    }
}
