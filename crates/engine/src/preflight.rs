//! Pre-flight checks of a `huaweicloud-ecs` source against the cloud, before a build spends
//! money: credentials, zone, network, security groups (SSH port), source image (and whether it
//! looks like a CCE base image), flavor and public IP. One line per check, each naming the field
//! to change when it fails. It only reads: it never creates, changes or deletes anything.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use serde::Serialize;

use cce_cloud::models::{Flavor, Image, ImageQuery, PublicIp};
use cce_cloud::{Cloud, CloudError, Findable};
use cce_template::schema::communicator::{Communicator, KeyPair};
use cce_template::schema::huaweicloud::{
    HuaweiEcsConfig, ImageFilter, SecurityGroupRef, SourceImage,
};

use crate::dry_run::{TEMP_SUBNET_CIDR, TEMP_VPC_CIDR};

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// The build may work, but something looks wrong.
    Warn,
    /// The build would fail.
    Fail,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked, e.g. `availability zone`, `security group sg-1`.
    pub name: String,
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// The template field to change (`availability_zone`, `subnets`, ...), when one is to blame.
    pub field: Option<String>,
    /// What to do about a warning or failure.
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Ok,
            detail: detail.into(),
            field: None,
            fix: None,
        }
    }
    fn warn(
        name: impl Into<String>,
        detail: impl Into<String>,
        field: &str,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            name: name.into(),
            status: Status::Warn,
            detail: detail.into(),
            field: Some(field.into()),
            fix: Some(fix.into()),
        }
    }
    fn fail(
        name: impl Into<String>,
        detail: impl Into<String>,
        field: &str,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            name: name.into(),
            status: Status::Fail,
            detail: detail.into(),
            field: Some(field.into()),
            fix: Some(fix.into()),
        }
    }
}

/// Every check of one source, in the order a build meets them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PreflightReport {
    pub checks: Vec<Check>,
}

impl PreflightReport {
    /// The report of a source whose client could not be set up or whose project did not
    /// resolve: one failed `credentials` check.
    pub fn connect_failed(error: &dyn std::fmt::Display) -> PreflightReport {
        PreflightReport {
            checks: vec![Check::fail(
                "credentials",
                format!("cannot connect: {error}"),
                "access_key",
                "check access_key and secret_key (HW_ACCESS_KEY, HW_SECRET_KEY), region, auth_url and project_name or project_id",
            )],
        }
    }

    /// The report of a failed [`cce_cloud::connect`]: the `credentials` check, naming the field
    /// most likely to blame (the keys, the project or the endpoints).
    pub fn connect_error(error: &CloudError) -> PreflightReport {
        let (field, fix) = match error {
            e if e.is_auth() => (
                "access_key",
                "check access_key and secret_key (HW_ACCESS_KEY, HW_SECRET_KEY) and that the key's user may list projects",
            ),
            CloudError::NotFound(_) | CloudError::Config(_) => (
                "project_name",
                "set project_name (HW_PROJECT_NAME) to an existing project of the region, or project_id (HW_PROJECT_ID)",
            ),
            CloudError::Endpoint(_) => (
                "auth_url",
                "set auth_url to the IAM endpoint, e.g. https://iam.ru-moscow-1.hc.sbercloud.ru/v3",
            ),
            _ => (
                "region",
                "check region, auth_url and the network path to the IAM endpoint",
            ),
        };
        PreflightReport {
            checks: vec![Check::fail(
                "credentials",
                format!("cannot connect: {error}"),
                field,
                fix,
            )],
        }
    }

    /// The worst status (ok for an empty report).
    pub fn worst(&self) -> Status {
        self.checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Ok)
    }

    /// True when no check failed (warnings pass).
    pub fn passed(&self) -> bool {
        self.worst() != Status::Fail
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Fail)
    }

    /// One line per check, `[ok]`/`[warn]`/`[FAIL]`, with the field and fix indented below.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            let _ = writeln!(out, "[{}] {}: {}", c.status.label(), c.name, c.detail);
            if let Some(fix) = &c.fix {
                match &c.field {
                    Some(f) => {
                        let _ = writeln!(out, "       change {f}: {fix}");
                    }
                    None => {
                        let _ = writeln!(out, "       {fix}");
                    }
                }
            }
        }
        out
    }
}

/// What the checks cannot learn from the cloud.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The address SSH connections come from (the build host's public address). Unknown: the
    /// security groups are checked for access from anywhere (0.0.0.0/0).
    pub ssh_source: Option<Ipv4Addr>,
}

/// Runs every check against `cloud` with default options. Creates nothing.
pub async fn run(cloud: &dyn Cloud, cfg: &HuaweiEcsConfig) -> PreflightReport {
    run_with(cloud, cfg, &Options::default()).await
}

/// Runs every check against `cloud`. Creates nothing. When the first call is refused for the
/// credentials, that is the only check reported (every other call would be refused too).
pub async fn run_with(cloud: &dyn Cloud, cfg: &HuaweiEcsConfig, opts: &Options) -> PreflightReport {
    let mut report = PreflightReport::default();
    let zones = match cloud.list_availability_zones().await {
        Ok(z) => {
            let project = cloud.project_id().unwrap_or("(none)");
            report.checks.push(Check::ok(
                "credentials",
                format!(
                    "signed requests are accepted in region {} for project {project}",
                    cloud.region()
                ),
            ));
            z
        }
        Err(e) => {
            let (field, fix) = if e.is_auth() {
                (
                    "access_key",
                    "check access_key and secret_key (HW_ACCESS_KEY, HW_SECRET_KEY) and that the key's user may use ECS in this project",
                )
            } else {
                (
                    "region",
                    "check region, auth_url and the network path to the endpoints",
                )
            };
            report.checks.push(Check::fail(
                "credentials",
                format!("the first call failed: {e}"),
                field,
                fix,
            ));
            return report;
        }
    };

    let az_ok = check_zone(&mut report, cfg, &zones);
    check_network(&mut report, cloud, cfg).await;
    check_security_groups(&mut report, cloud, cfg, opts).await;
    check_keypair(&mut report, cloud, cfg).await;
    check_image(&mut report, cloud, cfg).await;
    check_flavor(&mut report, cloud, cfg, az_ok).await;
    check_eip(&mut report, cloud, cfg).await;
    check_image_name(&mut report, cloud, cfg).await;
    report
}

/// A private image of the same name is not an error for IMS, but two images of one name are
/// easy to mix up in `source_image_name` and in the CCE console.
async fn check_image_name(report: &mut PreflightReport, cloud: &dyn Cloud, cfg: &HuaweiEcsConfig) {
    let Some(name) = &cfg.image_name else {
        return;
    };
    let q = ImageQuery {
        name: Some(name.clone()),
        image_type: Some("private".into()),
        ..Default::default()
    };
    match cloud.list_images(&q).await {
        Ok(list) => {
            let same: Vec<&str> = list
                .iter()
                .filter(|i| &i.name == name && i.status != "deleted")
                .map(|i| i.id.as_str())
                .collect();
            if same.is_empty() {
                report.checks.push(Check::ok(
                    "image name",
                    format!("no private image is named {name:?} yet"),
                ));
            } else {
                report.checks.push(Check::warn(
                    "image name",
                    format!("{} private image(s) are already named {name:?}: {}", same.len(), same.join(", ")),
                    "image_name",
                    "give each build a distinct name, e.g. with a timestamp: \"cce-node-${formatdate(\"YYYYMMDDhhmm\", timestamp())}\"",
                ));
            }
        }
        Err(e) => report.checks.push(Check::warn(
            "image name",
            format!("cannot list private images named {name:?}: {e}"),
            "image_name",
            "check the key's IMS permissions",
        )),
    }
}

fn check_zone(
    report: &mut PreflightReport,
    cfg: &HuaweiEcsConfig,
    zones: &[cce_cloud::models::AvailabilityZone],
) -> bool {
    let available: Vec<&str> = zones
        .iter()
        .filter(|z| z.available)
        .map(|z| z.name.as_str())
        .collect();
    let name = "availability zone";
    match &cfg.availability_zone {
        Some(az) => match zones.iter().find(|z| &z.name == az) {
            Some(z) if z.available => {
                report
                    .checks
                    .push(Check::ok(name, format!("{az} exists and is available")));
                true
            }
            Some(_) => {
                report.checks.push(Check::fail(
                    name,
                    format!("{az} exists but is not available"),
                    "availability_zone",
                    format!(
                        "use one of the available zones: {}, or leave it unset to pick one",
                        list_or_none(&available)
                    ),
                ));
                false
            }
            None => {
                report.checks.push(Check::fail(
                    name,
                    format!("{az} does not exist in region"),
                    "availability_zone",
                    format!(
                        "use one of: {}, or leave it unset to pick one",
                        list_or_none(&available)
                    ),
                ));
                false
            }
        },
        None if available.is_empty() => {
            report.checks.push(Check::fail(
                name,
                "no zone of the region is available",
                "availability_zone",
                "try again later or use another region",
            ));
            false
        }
        None => {
            report.checks.push(Check::ok(
                name,
                format!("not set: one of {} will be picked", available.join(", ")),
            ));
            true
        }
    }
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "(none)".to_string()
    } else {
        items.join(", ")
    }
}

async fn check_network(report: &mut PreflightReport, cloud: &dyn Cloud, cfg: &HuaweiEcsConfig) {
    let Some(vpc_id) = &cfg.vpc_id else {
        if cfg.local_cloud {
            report.checks.push(Check::ok(
                "network",
                "vpc_id is not set: a temporary VPC on a random 127.x.0.0/16 loopback range will be created and deleted",
            ));
            return;
        }
        report.checks.push(Check::ok(
            "network",
            format!("vpc_id is not set: a temporary VPC {TEMP_VPC_CIDR} with subnet {TEMP_SUBNET_CIDR} will be created and deleted"),
        ));
        return;
    };
    match cloud.show_vpc(vpc_id).await {
        Ok(v) => report.checks.push(Check::ok(
            "vpc",
            format!("{vpc_id} ({}, {}) exists", v.name, v.cidr),
        )),
        Err(e) if e.is_not_found() => {
            report.checks.push(Check::fail(
                "vpc",
                format!("{vpc_id} does not exist in this project"),
                "vpc_id",
                "set vpc_id to the VPC of your subnets (console: Virtual Private Cloud), or remove vpc_id and subnets to use a temporary VPC",
            ));
            return;
        }
        Err(e) => {
            report.checks.push(Check::fail(
                "vpc",
                format!("cannot read {vpc_id}: {e}"),
                "vpc_id",
                "check the id and the key's VPC permissions",
            ));
            return;
        }
    }
    if cfg.subnets.is_empty() {
        report.checks.push(Check::fail(
            "subnets",
            "vpc_id is set but no subnet is",
            "subnets",
            "set subnets to a network id of this VPC",
        ));
    }
    for id in &cfg.subnets {
        let name = format!("subnet {id}");
        match cloud.show_subnet(id).await {
            Ok(s) if s.vpc_id != *vpc_id => report.checks.push(Check::fail(
                name,
                format!("belongs to VPC {}, not to vpc_id {vpc_id}", s.vpc_id),
                "subnets",
                format!(
                    "use a subnet of VPC {vpc_id}, or set vpc_id to {}",
                    s.vpc_id
                ),
            )),
            Ok(s) if !s.status.is_empty() && s.status != "ACTIVE" => {
                report.checks.push(Check::warn(
                    name,
                    format!("is {} (not ACTIVE)", s.status),
                    "subnets",
                    "wait until the subnet is ACTIVE or use another one",
                ))
            }
            Ok(s) => report.checks.push(Check::ok(
                name,
                format!("{} ({}) is in VPC {vpc_id}", s.name, s.cidr),
            )),
            Err(e) if e.is_not_found() => {
                // The console shows a Subnet ID and a Network ID; ECS wants the Network ID.
                let network = match cloud.list_subnets(None).await {
                    Ok(all) => all
                        .into_iter()
                        .find(|s| s.neutron_subnet_id.as_deref() == Some(id.as_str())),
                    Err(_) => None,
                };
                report.checks.push(match network {
                    Some(n) => Check::fail(
                        name,
                        format!(
                            "is the Subnet ID of network {} ({}), not its Network ID",
                            n.name, n.id
                        ),
                        "subnets",
                        format!("use the Network ID {}", n.id),
                    ),
                    None => Check::fail(
                        name,
                        "does not exist in this project",
                        "subnets",
                        "use the subnet's Network ID (VPC v1 id) from the console, not its Subnet ID",
                    ),
                })
            }
            Err(e) => report.checks.push(Check::fail(
                name,
                format!("cannot read it: {e}"),
                "subnets",
                "check the id and the key's VPC permissions",
            )),
        }
    }
}

async fn check_security_groups(
    report: &mut PreflightReport,
    cloud: &dyn Cloud,
    cfg: &HuaweiEcsConfig,
    opts: &Options,
) {
    let Communicator::Ssh(ssh) = &cfg.communicator else {
        report.checks.push(Check::ok(
            "security groups",
            "communicator is \"none\": nothing connects over SSH",
        ));
        return;
    };
    let port = u32::from(ssh.port);
    let (source, source_text) = match opts.ssh_source {
        Some(ip) => (ip, format!("from {ip} (this host)")),
        None => (
            Ipv4Addr::UNSPECIFIED,
            "from anywhere (0.0.0.0/0; this host's address is unknown)".to_string(),
        ),
    };
    let refs: Vec<SecurityGroupRef> = if cfg.security_groups.is_empty() {
        vec![SecurityGroupRef::Name("default".into())]
    } else {
        cfg.security_groups.clone()
    };
    let mut listed: Option<Vec<cce_cloud::models::SecurityGroup>> = None;
    for r in &refs {
        let (id, shown) = match r {
            SecurityGroupRef::Id(id) => (id.clone(), id.clone()),
            SecurityGroupRef::Name(n) => {
                if listed.is_none() {
                    match cloud.list_security_groups().await {
                        Ok(l) => listed = Some(l),
                        Err(e) => {
                            report.checks.push(Check::fail(
                                format!("security group {n}"),
                                format!("cannot list security groups to find it by name: {e}"),
                                "security_groups",
                                "give the group's id instead of its name",
                            ));
                            continue;
                        }
                    }
                }
                let matches: Vec<&cce_cloud::models::SecurityGroup> =
                    listed.iter().flatten().filter(|g| &g.name == n).collect();
                match matches.as_slice() {
                    [one] => (one.id.clone(), format!("{n} ({})", one.id)),
                    [] => {
                        let field_note = if cfg.security_groups.is_empty() {
                            " (used because security_groups is empty)"
                        } else {
                            ""
                        };
                        report.checks.push(Check::fail(
                            format!("security group {n}"),
                            format!("no security group is named {n}{field_note}"),
                            "security_groups",
                            "set security_groups to the id of a group that admits SSH",
                        ));
                        continue;
                    }
                    many => {
                        let ids: Vec<&str> = many.iter().map(|g| g.id.as_str()).collect();
                        report.checks.push(Check::fail(
                            format!("security group {n}"),
                            format!("{} groups are named {n}: {}", many.len(), ids.join(", ")),
                            "security_groups",
                            "give the id of the one to use",
                        ));
                        continue;
                    }
                }
            }
        };
        let name = format!("security group {shown}");
        match cloud.security_group_allows_tcp(&id, port, source).await {
            Ok(true) => match members_only(cloud, &id, port, source).await {
                Some(groups) => report.checks.push(Check::warn(
                    name,
                    match opts.ssh_source {
                        Some(ip) => format!(
                            "admits TCP {port} from {ip} only if this host is a member of security group {}",
                            groups.join(", ")
                        ),
                        None => format!(
                            "admits TCP {port} only from members of security group {}{}",
                            groups.join(", "),
                            match narrower_sources(cloud, &id, port).await {
                                ranges if ranges.is_empty() => String::new(),
                                ranges => format!(", and from {}", ranges.join(", ")),
                            }
                        ),
                    },
                    "security_groups",
                    format!(
                        "add an inbound rule for TCP {port} from this host's address, unless this host runs in that group"
                    ),
                )),
                None => report
                    .checks
                    .push(Check::ok(name, format!("admits TCP {port} {source_text}"))),
            },
            Ok(false) => {
                // With the source unknown, a rule for a narrower range may still admit this host.
                let narrower = if opts.ssh_source.is_none() {
                    narrower_sources(cloud, &id, port).await
                } else {
                    Vec::new()
                };
                if narrower.is_empty() {
                    report.checks.push(Check::fail(
                        name,
                        format!("does not admit TCP {port} {source_text}"),
                        "security_groups",
                        format!("add an inbound rule for TCP {port} from this host's address, or use a group that has one"),
                    ));
                } else {
                    report.checks.push(Check::warn(
                        name,
                        format!("admits TCP {port} only from {}", narrower.join(", ")),
                        "security_groups",
                        "make sure this host's address is in that range (pass its public address to check it)",
                    ));
                }
            }
            Err(e) if e.is_not_found() => report.checks.push(Check::fail(
                name,
                "does not exist in this project",
                "security_groups",
                "set security_groups to an existing group's id",
            )),
            Err(e) => report.checks.push(Check::fail(
                name,
                format!("cannot read it: {e}"),
                "security_groups",
                "check the id and the key's VPC permissions",
            )),
        }
    }
}

/// The remote groups of the rules that admit `source` to TCP `port`, when only such rules do
/// (the cloud counts a remote-group rule as admitting, but it admits members of that group
/// only). `None` when an address rule admits it, or the group cannot be read.
async fn members_only(
    cloud: &dyn Cloud,
    sg_id: &str,
    port: u32,
    source: Ipv4Addr,
) -> Option<Vec<String>> {
    let sg = cloud.show_security_group(sg_id).await.ok()?;
    let (by_group, by_address): (Vec<_>, Vec<_>) = sg
        .security_group_rules
        .into_iter()
        .partition(|r| r.remote_group_id.as_deref().is_some_and(|g| !g.is_empty()));
    if cce_cloud::models::v1_rules_allow_tcp(&by_address, port, source) {
        return None;
    }
    let mut groups: Vec<String> = by_group
        .iter()
        .filter(|r| cce_cloud::models::v1_rules_allow_tcp(std::slice::from_ref(*r), port, source))
        .filter_map(|r| r.remote_group_id.clone())
        .collect();
    groups.sort();
    groups.dedup();
    (!groups.is_empty()).then_some(groups)
}

/// The prefixes of IPv4 ingress rules that cover TCP `port` for some source but not all.
async fn narrower_sources(cloud: &dyn Cloud, sg_id: &str, port: u32) -> Vec<String> {
    let Ok(sg) = cloud.show_security_group(sg_id).await else {
        return Vec::new();
    };
    let mut out: Vec<String> = sg
        .security_group_rules
        .iter()
        .filter(|r| {
            r.direction == "ingress"
                && r.ethertype
                    .as_deref()
                    .is_none_or(|e| e.eq_ignore_ascii_case("IPv4"))
                && r.protocol
                    .as_deref()
                    .is_none_or(|p| p.is_empty() || p.eq_ignore_ascii_case("tcp") || p == "6")
                && r.port_range_min.is_none_or(|m| m <= port)
                && r.port_range_max.is_none_or(|m| port <= m)
        })
        .filter_map(|r| r.remote_ip_prefix.clone().filter(|p| !p.is_empty()))
        .collect();
    out.sort();
    out.dedup();
    out
}

async fn check_keypair(report: &mut PreflightReport, cloud: &dyn Cloud, cfg: &HuaweiEcsConfig) {
    let Some(KeyPair::Existing { name }) = cfg.communicator.ssh().map(|s| &s.key_pair) else {
        return;
    };
    let check = format!("key pair {name}");
    match cloud
        .find_by_name(Findable::Keypair, name, &Default::default())
        .await
    {
        Ok(found) if !found.is_empty() => report.checks.push(Check::ok(check, "exists")),
        Ok(_) => report.checks.push(Check::fail(
            check,
            "does not exist in this project",
            "ssh_keypair_name",
            "create the key pair in the console, or remove ssh_keypair_name to use a temporary one",
        )),
        Err(e) => report.checks.push(Check::fail(
            check,
            format!("cannot read it: {e}"),
            "ssh_keypair_name",
            "check the name and the key's ECS permissions",
        )),
    }
}

/// The image a source refers to, or the failed check.
async fn resolve_image(cloud: &dyn Cloud, source: &SourceImage) -> Result<Image, Check> {
    let name = "source image";
    match source {
        SourceImage::Id(id) => match cloud.show_image(id).await {
            Ok(Some(i)) => Ok(i),
            Ok(None) => Err(Check::fail(
                name,
                format!("{id} does not exist or is not visible to this project"),
                "source_image",
                "copy the CCE base image's ID (CCE console: Create Node Pool, OS: Private Image, View CCE base image information) or run `cce-image-builder base-images`",
            )),
            Err(e) => Err(Check::fail(
                name,
                format!("cannot read {id}: {e}"),
                "source_image",
                "check the id and the key's IMS permissions",
            )),
        },
        SourceImage::Name(n) => {
            let q = ImageQuery {
                name: Some(n.clone()),
                ..Default::default()
            };
            match cloud.list_images(&q).await {
                Ok(list) => {
                    let mut exact: Vec<Image> = list
                        .into_iter()
                        .filter(|i| &i.name == n && i.status != "deleted")
                        .collect();
                    newest_first(&mut exact);
                    let active = exact.iter().position(|i| i.status == "active");
                    match (active, exact.first()) {
                        (Some(pos), _) => Ok(exact.swap_remove(pos)),
                        (None, Some(i)) => Ok(i.clone()),
                        (None, None) => Err(Check::fail(
                            name,
                            format!("no image is named {n:?}"),
                            "source_image_name",
                            "use the exact name of a CCE base image, or its id in source_image",
                        )),
                    }
                }
                Err(e) => Err(Check::fail(
                    name,
                    format!("cannot list images named {n:?}: {e}"),
                    "source_image_name",
                    "check the key's IMS permissions",
                )),
            }
        }
        SourceImage::Filter(f) => resolve_filter(cloud, f).await,
    }
}

async fn resolve_filter(cloud: &dyn Cloud, f: &ImageFilter) -> Result<Image, Check> {
    let name = "source image";
    let q = ImageQuery {
        name: f.name.clone(),
        owner: f.owner.clone(),
        image_type: f.image_type.clone(),
        tag: f.tag.clone(),
        status: Some("active".into()),
        ..Default::default()
    };
    let list = cloud.list_images(&q).await.map_err(|e| {
        Check::fail(
            name,
            format!("cannot list images: {e}"),
            "source_image_filter",
            "check the filters and the key's IMS permissions",
        )
    })?;
    let mut matches: Vec<Image> = list
        .into_iter()
        .filter(|i| {
            f.properties.iter().all(|(k, v)| {
                let found = match k.as_str() {
                    "name" => Some(i.name.clone()),
                    "status" => Some(i.status.clone()),
                    _ => i
                        .extra
                        .get(k)
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)),
                };
                found.as_deref() == Some(v.as_str())
            })
        })
        .collect();
    newest_first(&mut matches);
    match matches.len() {
        0 => Err(Check::fail(
            name,
            "no active image matches source_image_filter",
            "source_image_filter",
            "loosen the filters, or set source_image to the CCE base image's id",
        )),
        1 => Ok(matches.remove(0)),
        _ if f.most_recent => Ok(matches.remove(0)),
        n => Err(Check::fail(
            name,
            format!("{n} images match source_image_filter"),
            "source_image_filter",
            "set most_recent = true to take the newest, or narrow the filters",
        )),
    }
}

fn newest_first(images: &mut [Image]) {
    images.sort_by(|a, b| b.created_at.cmp(&a.created_at));
}

/// A string extension field of an image.
fn image_field<'a>(i: &'a Image, key: &str) -> Option<&'a str> {
    i.extra
        .get(key)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
}

/// Why the image looks like a CCE node base image (its name, a tag or its description mentions
/// CCE), or `None`.
pub fn cce_base_hint(i: &Image) -> Option<String> {
    let mentions = |s: &str| {
        let lower = s.to_ascii_lowercase();
        lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w == "cce")
    };
    if mentions(&i.name) {
        return Some(format!("its name {:?} mentions CCE", i.name));
    }
    if let Some(t) = i.tags.iter().find(|t| mentions(t)) {
        return Some(format!("it is tagged {t:?}"));
    }
    for key in ["__description", "__os_version", "__platform"] {
        if let Some(v) = image_field(i, key).filter(|v| mentions(v)) {
            return Some(format!("its {key} {v:?} mentions CCE"));
        }
    }
    None
}

/// What the user's guide says about base images.
pub const CCE_BASE_IMAGE_QUOTE: &str = "the CCE guide says: \"Если нужно создать собственный образ, используйте стандартные образы CCE\" (to build your own image, start from a CCE base image); ECS public images are not supported";

async fn check_image(report: &mut PreflightReport, cloud: &dyn Cloud, cfg: &HuaweiEcsConfig) {
    let Some(source) = &cfg.source_image else {
        if cfg.local_cloud {
            check_local_base_image(report, cloud).await;
            return;
        }
        report.checks.push(Check::fail(
            "source image",
            "none of source_image, source_image_name, source_image_filter is set",
            "source_image",
            "set source_image to the CCE base image's id",
        ));
        return;
    };
    let field = match source {
        SourceImage::Id(_) => "source_image",
        SourceImage::Name(_) => "source_image_name",
        SourceImage::Filter(_) => "source_image_filter",
    };
    let image = match resolve_image(cloud, source).await {
        Ok(i) => i,
        Err(c) => {
            report.checks.push(c);
            return;
        }
    };
    let os = image_field(&image, "__os_version")
        .unwrap_or("unknown OS")
        .to_string();
    let shown = format!("{} ({}, {os})", image.id, image.name);
    if image.status != "active" {
        report.checks.push(Check::fail(
            "source image",
            format!(
                "{shown} is {}, not active",
                if image.status.is_empty() {
                    "in no status"
                } else {
                    &image.status
                }
            ),
            field,
            "wait until the image is active, or use another image",
        ));
        return;
    }
    report
        .checks
        .push(Check::ok("source image", format!("{shown} is active")));
    match cce_base_hint(&image) {
        Some(why) => report.checks.push(Check::ok("CCE base image", format!("{} looks like a CCE base image: {why}", image.id))),
        None => report.checks.push(Check::warn(
            "CCE base image",
            format!("{} ({}) does not look like a CCE base image (no CCE in its name, tags or description); {CCE_BASE_IMAGE_QUOTE}", image.id, image.name),
            field,
            "use the image ID from the CCE console (Create Node Pool, OS: Private Image, View CCE base image information) or `cce-image-builder base-images`",
        )),
    }
    if let (Some(size), Some(min)) = (cfg.volume_size, image.min_disk) {
        if u64::from(size) < min {
            report.checks.push(Check::fail(
                "system disk",
                format!("volume_size {size} GB is below the image's min_disk {min} GB"),
                "volume_size",
                format!("set volume_size to at least {min}, or leave it unset"),
            ));
        }
    }
}

/// The reason a flavor is not sold in `az`, from its `os_extra_specs` (`cond:operation:status`
/// for every zone, `cond:operation:az` per zone as `zone(status)`), or `None` if it is sold.
pub fn flavor_not_sold(f: &Flavor, az: Option<&str>) -> Option<String> {
    let sold = |status: &str| matches!(status, "normal" | "promotion" | "obt" | "");
    let spec = |k: &str| {
        f.os_extra_specs
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::trim)
    };
    let global = spec("cond:operation:status").unwrap_or("normal");
    if let (Some(az), Some(per_az)) = (az, spec("cond:operation:az")) {
        for part in per_az.split(',') {
            let part = part.trim();
            if let Some((zone, rest)) = part.split_once('(') {
                if zone.trim() == az {
                    let status = rest.trim_end_matches(')').trim();
                    return (!sold(status)).then(|| format!("it is {status} in {az}"));
                }
            }
        }
    }
    (!sold(global)).then(|| format!("it is {global}"))
}

async fn check_flavor(
    report: &mut PreflightReport,
    cloud: &dyn Cloud,
    cfg: &HuaweiEcsConfig,
    az_ok: bool,
) {
    let Some(flavor) = &cfg.flavor else {
        if cfg.local_cloud {
            check_local_flavor(report, cloud, cfg, az_ok).await;
            return;
        }
        report.checks.push(Check::fail(
            "flavor",
            "flavor is not set",
            "flavor",
            "set flavor to a flavor ID, e.g. \"s7n.large.2\"",
        ));
        return;
    };
    // An unknown zone has no flavors: then check the region instead of failing twice.
    let az = cfg.availability_zone.as_deref().filter(|_| az_ok);
    let where_ = az.map_or_else(|| "the region".to_string(), |a| format!("zone {a}"));
    let flavors = match cloud.list_flavors(az).await {
        Ok(f) => f,
        Err(e) => {
            report.checks.push(Check::fail(
                "flavor",
                format!("cannot list the flavors of {where_}: {e}"),
                "flavor",
                "check the key's ECS permissions",
            ));
            return;
        }
    };
    match flavors
        .iter()
        .find(|f| &f.id == flavor || &f.name == flavor)
    {
        Some(f) => match flavor_not_sold(f, az) {
            Some(why) => report.checks.push(Check::fail(
                "flavor",
                format!("{flavor} is not sold in {where_}: {why}"),
                "flavor",
                "pick a flavor sold in this zone, or another availability_zone",
            )),
            None => {
                let size = match (f.vcpus, f.ram) {
                    (Some(c), Some(r)) => format!(" ({c} vCPUs, {} GiB)", r / 1024),
                    _ => String::new(),
                };
                report.checks.push(Check::ok(
                    "flavor",
                    format!("{flavor}{size} is sold in {where_}"),
                ));
            }
        },
        None => {
            let mut some: Vec<&str> = flavors.iter().map(|f| f.id.as_str()).collect();
            some.sort_unstable();
            let shown = if some.len() > 12 {
                format!("{}, ...", some[..12].join(", "))
            } else {
                list_or_none(&some)
            };
            report.checks.push(Check::fail(
                "flavor",
                format!("{flavor} is not sold in {where_}"),
                "flavor",
                format!("use a flavor sold there: {shown}"),
            ));
        }
    }
}

/// The local cloud builds from its Debian base image when no source image is set (as the
/// build does): that image must be listed.
async fn check_local_base_image(report: &mut PreflightReport, cloud: &dyn Cloud) {
    let q = ImageQuery {
        image_type: Some("gold".into()),
        status: Some("active".into()),
        ..Default::default()
    };
    match cloud.list_images(&q).await {
        Ok(list) => match list
            .iter()
            .find(|i| i.name == "Debian 12 (local sandbox rootfs)")
            .or_else(|| list.iter().find(|i| i.name.contains("Debian")))
        {
            Some(i) => report.checks.push(Check::ok(
                "source image",
                format!(
                    "not set: the local cloud's base image {} ({}) will be used",
                    i.id, i.name
                ),
            )),
            None => report.checks.push(Check::fail(
                "source image",
                "not set, and the local cloud lists no Debian base image to use instead",
                "source_image",
                "set source_image to an image of the local cloud (`cce-image-builder localcloud` lists them), or start from a fresh CCE_LOCALCLOUD_STATE",
            )),
        },
        Err(e) => report.checks.push(Check::fail(
            "source image",
            format!("cannot list the local cloud's public images: {e}"),
            "source_image",
            "set source_image, or check the local cloud's state folder",
        )),
    }
}

/// The local cloud builds on its first flavor when none is set (as the build does): one
/// must be sold.
async fn check_local_flavor(
    report: &mut PreflightReport,
    cloud: &dyn Cloud,
    cfg: &HuaweiEcsConfig,
    az_ok: bool,
) {
    let az = cfg.availability_zone.as_deref().filter(|_| az_ok);
    let where_ = az.map_or_else(|| "the region".to_string(), |a| format!("zone {a}"));
    match cloud.list_flavors(az).await {
        Ok(flavors) => match flavors.first() {
            Some(f) => report.checks.push(Check::ok(
                "flavor",
                format!("not set: the local cloud's flavor {} will be used", f.id),
            )),
            None => report.checks.push(Check::fail(
                "flavor",
                format!("not set, and the local cloud sells no flavor in {where_}"),
                "flavor",
                "set flavor, or leave availability_zone unset",
            )),
        },
        Err(e) => report.checks.push(Check::fail(
            "flavor",
            format!("cannot list the flavors of {where_}: {e}"),
            "flavor",
            "set flavor, or check the local cloud's state folder",
        )),
    }
}

fn unbound(e: &PublicIp) -> bool {
    e.port_id.as_deref().is_none_or(str::is_empty) && e.status != "ACTIVE"
}

async fn check_eip(report: &mut PreflightReport, cloud: &dyn Cloud, cfg: &HuaweiEcsConfig) {
    let name = "public ip";
    if !cfg.associate_public_ip_address {
        report.checks.push(Check::ok(name, "associate_public_ip_address is false: SSH goes to the private IP, which this host must reach"));
        return;
    }
    if let Some(id) = &cfg.floating_ip {
        match cloud.show_eip(id).await {
            Ok(e) if !unbound(&e) => report.checks.push(Check::fail(
                name,
                format!("EIP {id} ({}) is already bound to port {}", e.public_ip_address.as_deref().unwrap_or("?"), e.port_id.as_deref().unwrap_or("?")),
                "floating_ip",
                "unbind it first, or use another EIP, reuse_ips, or eip_bandwidth_size for a temporary one",
            )),
            Ok(e) => report.checks.push(Check::ok(name, format!("EIP {id} ({}) exists and is unbound", e.public_ip_address.as_deref().unwrap_or("?")))),
            Err(e) if e.is_not_found() => report.checks.push(Check::fail(
                name,
                format!("EIP {id} does not exist in this project"),
                "floating_ip",
                "set floating_ip to an existing EIP's id, or set eip_bandwidth_size for a temporary one",
            )),
            Err(e) => report.checks.push(Check::fail(name, format!("cannot read EIP {id}: {e}"), "floating_ip", "check the id and the key's EIP permissions")),
        }
        return;
    }
    if cfg.reuse_ips {
        match cloud.list_eips().await {
            Ok(list) => match list.iter().find(|e| unbound(e)) {
                Some(e) => report.checks.push(Check::ok(
                    name,
                    format!(
                        "reuse_ips: unbound EIP {} ({}) would be used",
                        e.id,
                        e.public_ip_address.as_deref().unwrap_or("?")
                    ),
                )),
                None => report.checks.push(Check::fail(
                    name,
                    format!(
                        "reuse_ips is set but none of the project's {} EIPs is unbound",
                        list.len()
                    ),
                    "reuse_ips",
                    "free an EIP, or set eip_bandwidth_size instead for a temporary one",
                )),
            },
            Err(e) => report.checks.push(Check::fail(
                name,
                format!("cannot list EIPs: {e}"),
                "reuse_ips",
                "check the key's EIP permissions",
            )),
        }
        return;
    }
    if cfg.eip_bandwidth_size > 0 {
        let known = matches!(cfg.eip_type.as_str(), "5_bgp" | "5_sbgp");
        let detail = format!(
            "a temporary EIP ({}) with {} Mbit/s bandwidth charged by traffic will be created and deleted",
            cfg.eip_type, cfg.eip_bandwidth_size
        );
        if known {
            report.checks.push(Check::ok(name, detail));
        } else {
            report.checks.push(Check::warn(
                name,
                format!(
                    "{detail}; eip_type {:?} is not one Cloud.ru documents",
                    cfg.eip_type
                ),
                "eip_type",
                "use \"5_bgp\" (or \"5_sbgp\")",
            ));
        }
        return;
    }
    if cfg.local_cloud {
        // The local cloud's servers are sandboxes on this host: their private IP is reachable.
        report.checks.push(Check::ok(
            name,
            "no EIP: the local cloud's servers are reached at their private IP from this host",
        ));
        return;
    }
    report.checks.push(Check::warn(
        name,
        "no EIP: eip_bandwidth_size is 0 and neither floating_ip nor reuse_ips is set, so SSH goes to the private IP",
        "eip_bandwidth_size",
        "set eip_bandwidth_size (e.g. 5) unless this host reaches the subnet directly",
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn image(v: serde_json::Value) -> Image {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn cce_hints_come_from_name_tags_or_description() {
        let by_name =
            image(json!({"id": "i", "name": "CCE_images_EulerOS 2.9", "status": "active"}));
        assert!(cce_base_hint(&by_name).unwrap().contains("name"));
        let by_tag = image(json!({"id": "i", "name": "node", "tags": ["cce=base"]}));
        assert!(cce_base_hint(&by_tag).unwrap().contains("tagged"));
        let by_desc =
            image(json!({"id": "i", "name": "node", "__description": "Image for CCE nodes"}));
        assert!(cce_base_hint(&by_desc).unwrap().contains("__description"));
        let plain = image(
            json!({"id": "i", "name": "Ubuntu 22.04 server 64bit", "__os_version": "Ubuntu 22.04 64bit"}),
        );
        assert_eq!(cce_base_hint(&plain), None);
        // A word containing the letters is not a mention.
        let succeed = image(json!({"id": "i", "name": "success-image"}));
        assert_eq!(cce_base_hint(&succeed), None);
    }

    fn flavor(specs: serde_json::Value) -> Flavor {
        serde_json::from_value(json!({"id": "s7n.large.2", "os_extra_specs": specs})).unwrap()
    }

    #[test]
    fn flavor_sale_status_per_zone() {
        let f = flavor(
            json!({"cond:operation:status": "normal", "cond:operation:az": "ru-moscow-1a(normal),ru-moscow-1b(sellout)"}),
        );
        assert_eq!(flavor_not_sold(&f, Some("ru-moscow-1a")), None);
        assert_eq!(
            flavor_not_sold(&f, Some("ru-moscow-1b")).as_deref(),
            Some("it is sellout in ru-moscow-1b")
        );
        assert_eq!(flavor_not_sold(&f, None), None);
        let f = flavor(json!({"cond:operation:status": "abandon"}));
        assert_eq!(
            flavor_not_sold(&f, Some("ru-moscow-1a")).as_deref(),
            Some("it is abandon")
        );
        assert_eq!(flavor_not_sold(&flavor(json!({})), Some("x")), None);
    }

    #[test]
    fn connect_errors_name_the_field_to_blame() {
        let field = |e: CloudError| {
            PreflightReport::connect_error(&e).checks[0]
                .field
                .clone()
                .unwrap()
        };
        let refused = cce_cloud::ApiError::from_response(
            "iam",
            "list projects",
            401,
            br#"{"error_code":"APIGW.0301","error_msg":"bad signature"}"#,
            None,
        );
        assert_eq!(field(refused.into()), "access_key");
        assert_eq!(
            field(CloudError::NotFound("no project named \"x\"".into())),
            "project_name"
        );
        assert_eq!(
            field(CloudError::Config("2 projects are named \"x\"".into())),
            "project_name"
        );
        let bad_url = cce_cloud::endpoints::EndpointError::NoDomain {
            url: "https://localhost/v3".into(),
        };
        assert_eq!(field(bad_url.into()), "auth_url");
        let r = PreflightReport::connect_error(&CloudError::NotFound("no project".into()));
        assert_eq!(
            (r.checks[0].name.as_str(), r.checks[0].status),
            ("credentials", Status::Fail)
        );
    }

    #[test]
    fn report_text_and_verdict() {
        let mut r = PreflightReport::default();
        assert!(r.passed());
        r.checks.push(Check::ok("credentials", "accepted"));
        r.checks.push(Check::warn(
            "CCE base image",
            "plain image",
            "source_image",
            "use a CCE one",
        ));
        assert!(r.passed());
        assert_eq!(r.worst(), Status::Warn);
        r.checks
            .push(Check::fail("flavor", "x is not sold", "flavor", "use y"));
        assert!(!r.passed());
        assert_eq!(r.failures().count(), 1);
        let text = r.render_text();
        assert_eq!(
            text,
            "[ok] credentials: accepted\n[warn] CCE base image: plain image\n       change source_image: use a CCE one\n[FAIL] flavor: x is not sold\n       change flavor: use y\n"
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["checks"][2]["status"], "fail");
        assert_eq!(v["checks"][2]["field"], "flavor");
        let c = PreflightReport::connect_failed(&"iam list projects: 401");
        assert_eq!(c.checks[0].name, "credentials");
        assert!(!c.passed());
    }
}
