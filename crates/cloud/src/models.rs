//! The JSON shapes of the calls the build needs, with the exact field names of the APIs. Only the
//! fields we use are typed; the rest of a resource is kept in `extra` so nothing is lost.
//! An absent `Option` field reads as `None` without `#[serde(default)]`; that attribute is only
//! written where a field is no `Option` or has a `deserialize_with` (which would make it required).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Accepts a string, a number or null (APIs disagree on `"4"` vs `4`).
pub(crate) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    })
}

/// Accepts an integer, a numeric string or null.
pub(crate) fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A `{"key","value"}` tag (IMS image tags, ECS server tags).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// `{"id": ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRef {
    pub id: String,
}

/// A body that wraps resources in one key: `wrapper!(pub(crate) VpcEnvelope { vpc: Vpc })` reads
/// `{"vpc": {...}}`; `wrapper!(pub(crate) VpcList { vpcs: [Vpc] })` reads `{"vpcs": [...]}`, an
/// absent list being empty. Each API names its key, so one generic struct cannot serve.
macro_rules! wrapper {
    ($(#[$meta:meta])* $vis:vis $name:ident { $key:ident: [$item:ty] }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Deserialize)]
        $vis struct $name {
            #[serde(default)]
            pub $key: Vec<$item>,
        }
    };
    ($(#[$meta:meta])* $vis:vis $name:ident { $key:ident: $item:ty }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Deserialize)]
        $vis struct $name {
            pub $key: $item,
        }
    };
}

// ---------------------------------------------------------------- IAM

#[derive(Clone, Debug, Deserialize)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub domain_id: Option<String>,
    pub enabled: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

wrapper!(pub(crate) ProjectList { projects: [Project] });

// ---------------------------------------------------------------- ECS

/// A NIC of a server to create: the VPC v1 subnet id (= network id).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NicSpec {
    pub subnet_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RootVolume {
    pub volumetype: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
}

/// The `server` of a create-server body (v1 and v1.1).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ServerCreate {
    pub name: String,
    #[serde(rename = "imageRef")]
    pub image_ref: String,
    #[serde(rename = "flavorRef")]
    pub flavor_ref: String,
    pub vpcid: String,
    pub nics: Vec<NicSpec>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<IdRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    pub root_volume: RootVolume,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// Base64 already.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub server_tags: Vec<Tag>,
    /// `{"id": eip}` or an inline `{"eip": {...}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publicip: Option<Value>,
    /// `chargingMode` is filled per API version when absent.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub extendparam: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct CreateServerResponse {
    pub job_id: Option<String>,
    #[serde(default, rename = "serverIds")]
    pub server_ids: Vec<String>,
    pub order_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Address {
    pub addr: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub version: Option<String>,
    #[serde(rename = "OS-EXT-IPS:type")]
    pub ip_type: Option<String>,
    #[serde(rename = "OS-EXT-IPS:port_id")]
    pub port_id: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Server {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub status: String,
    #[serde(rename = "OS-EXT-AZ:availability_zone")]
    pub availability_zone: Option<String>,
    #[serde(default)]
    pub addresses: BTreeMap<String, Vec<Address>>,
    pub key_name: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Server {
    fn address_of(&self, kind: &str) -> Option<&str> {
        self.addresses
            .values()
            .flatten()
            .find(|a| a.ip_type.as_deref() == Some(kind) && a.version.as_deref() != Some("6"))
            .map(|a| a.addr.as_str())
    }
    /// The EIP bound to the server (what to SSH to).
    pub fn floating_ip(&self) -> Option<&str> {
        self.address_of("floating")
    }
    pub fn fixed_ip(&self) -> Option<&str> {
        self.address_of("fixed")
    }
}

wrapper!(pub(crate) ServerEnvelope { server: Server });

#[derive(Clone, Debug, Deserialize)]
pub struct ServerList {
    pub count: Option<u64>,
    #[serde(default)]
    pub servers: Vec<Server>,
}

/// Filters of `GET /v1/{pid}/cloudservers/detail`.
#[derive(Clone, Debug, Default)]
pub struct ServerQuery {
    pub name: Option<String>,
    pub status: Option<String>,
    pub flavor: Option<String>,
    pub ip: Option<String>,
    pub tags: Option<String>,
    pub enterprise_project_id: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
    pub marker: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Flavor {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub vcpus: Option<u64>,
    /// MB.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub ram: Option<u64>,
    #[serde(default)]
    pub os_extra_specs: Map<String, Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

wrapper!(pub(crate) FlavorList { flavors: [Flavor] });

/// A zone from nova `os-availability-zone`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvailabilityZone {
    pub name: String,
    pub available: bool,
}

#[derive(Deserialize)]
pub(crate) struct NovaZones {
    #[serde(default, rename = "availabilityZoneInfo")]
    pub info: Vec<NovaZone>,
}

#[derive(Deserialize)]
pub(crate) struct NovaZone {
    #[serde(rename = "zoneName")]
    pub zone_name: String,
    #[serde(rename = "zoneState")]
    pub zone_state: Option<NovaZoneState>,
}

#[derive(Deserialize)]
pub(crate) struct NovaZoneState {
    #[serde(default)]
    pub available: bool,
}

/// A zone from ECS v1 `availability-zones`.
#[derive(Clone, Debug, Deserialize)]
pub struct AvailabilityZoneV1 {
    pub availability_zone_id: String,
    #[serde(rename = "type")]
    pub zone_type: Option<String>,
    pub mode: Option<String>,
    pub alias: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

wrapper!(pub(crate) ZonesV1 { availability_zones: [AvailabilityZoneV1] });

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct FixedIp {
    #[serde(default)]
    pub ip_address: String,
    pub subnet_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Interface {
    pub port_id: String,
    pub net_id: Option<String>,
    pub mac_addr: Option<String>,
    pub port_state: Option<String>,
    #[serde(default)]
    pub fixed_ips: Vec<FixedIp>,
}

#[derive(Deserialize)]
pub(crate) struct Interfaces {
    #[serde(default, rename = "interfaceAttachments")]
    pub attachments: Vec<Interface>,
}

#[derive(Clone, Deserialize)]
pub struct Keypair {
    pub name: String,
    #[serde(default)]
    pub public_key: String,
    /// Only when the cloud generated the pair.
    pub private_key: Option<String>,
    pub fingerprint: Option<String>,
    pub user_id: Option<String>,
    #[serde(rename = "type")]
    pub key_type: Option<String>,
}

impl std::fmt::Display for Keypair {
    // Never print the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "keypair {}", self.name)
    }
}

impl std::fmt::Debug for Keypair {
    // Never print the private key, even in debug logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keypair")
            .field("name", &self.name)
            .field("public_key", &self.public_key)
            .field("private_key", &self.private_key.as_ref().map(|_| "<sensitive>"))
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

wrapper!(pub(crate) KeypairEnvelope { keypair: Keypair });
wrapper!(pub(crate) KeypairList { keypairs: [KeypairEnvelope] });

// ---------------------------------------------------------------- jobs

/// An ECS or IMS job.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Job {
    #[serde(default)]
    pub job_id: String,
    #[serde(default)]
    pub status: String,
    pub job_type: Option<String>,
    pub begin_time: Option<String>,
    pub end_time: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub error_code: Option<String>,
    pub fail_reason: Option<String>,
    pub message: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub code: Option<String>,
    #[serde(default)]
    pub entities: Value,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = match p.parse::<usize>() {
            Ok(i) => cur.get(i)?,
            Err(_) => cur.get(*p)?,
        };
    }
    cur.as_str().filter(|s| !s.is_empty())
}

impl Job {
    pub fn is_success(&self) -> bool {
        self.status.eq_ignore_ascii_case("SUCCESS")
    }
    pub fn is_failed(&self) -> bool {
        self.status.eq_ignore_ascii_case("FAIL") || self.status.eq_ignore_ascii_case("FAILED")
    }
    /// The created server: `entities.sub_jobs[0].entities.server_id` or `entities.server_id`.
    pub fn server_id(&self) -> Option<&str> {
        str_at(&self.entities, &["sub_jobs", "0", "entities", "server_id"]).or_else(|| str_at(&self.entities, &["server_id"]))
    }
    /// The created image: `entities.image_id` or `entities.sub_jobs_result[0].entities.image_id`.
    pub fn image_id(&self) -> Option<&str> {
        str_at(&self.entities, &["image_id"]).or_else(|| str_at(&self.entities, &["sub_jobs_result", "0", "entities", "image_id"]))
    }
    /// The best failure code: the job's own, else its first failed sub-job's.
    pub fn failure_code(&self) -> String {
        self.error_code
            .clone()
            .or_else(|| self.code.clone())
            .or_else(|| self.failed_sub_job_field("error_code"))
            .unwrap_or_else(|| "unknown".into())
    }
    /// The best failure reason: `fail_reason`, a failed sub-job's, or `message`.
    pub fn failure_reason(&self) -> String {
        self.fail_reason
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| self.failed_sub_job_field("fail_reason"))
            .or_else(|| self.message.clone())
            .unwrap_or_else(|| "no reason given".into())
    }
    fn failed_sub_job_field(&self, field: &str) -> Option<String> {
        ["sub_jobs", "sub_jobs_result"].iter().find_map(|list| {
            self.entities.get(list)?.as_array()?.iter().find_map(|j| j.get(field)?.as_str().filter(|s| !s.is_empty()).map(str::to_string))
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct JobResponse {
    #[serde(default)]
    pub job_id: String,
}

// ---------------------------------------------------------------- IMS

/// Body of `POST /v2/cloudimages/action` (image from a server).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ImageCreate {
    pub name: String,
    pub instance_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image_tags: Vec<Tag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enterprise_project_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_ram: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_ram: Option<u32>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What `create_image` achieved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreatedImage {
    /// The IMS job to wait for.
    Job(String),
    /// The create's outcome was unknown, but an image of that name exists (its id).
    Existing(String),
}

#[derive(Clone, Debug, Deserialize)]
pub struct Image {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub status: String,
    pub visibility: Option<String>,
    pub owner: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub min_disk: Option<u64>,
    pub created_at: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(rename = "__imagetype")]
    pub image_type: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

wrapper!(pub(crate) ImageList { images: [Image] });

/// Filters of `GET /v2/cloudimages`.
#[derive(Clone, Debug, Default)]
pub struct ImageQuery {
    pub id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    /// `__imagetype`: gold, private, shared, market.
    pub image_type: Option<String>,
    pub visibility: Option<String>,
    pub owner: Option<String>,
    pub tag: Option<String>,
    pub limit: Option<u32>,
    pub marker: Option<String>,
    pub sort_key: Option<String>,
    pub sort_dir: Option<String>,
    /// Any other filter, sent as given.
    pub other: Vec<(String, String)>,
}

wrapper!(pub(crate) TagList { tags: [Tag] });

// ---------------------------------------------------------------- VPC

#[derive(Clone, Debug, Deserialize)]
pub struct Vpc {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub cidr: String,
    #[serde(default)]
    pub status: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

wrapper!(pub(crate) VpcEnvelope { vpc: Vpc });
wrapper!(pub(crate) VpcList { vpcs: [Vpc] });

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct VpcCreate {
    pub name: String,
    pub cidr: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enterprise_project_id: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Subnet {
    /// The VPC v1 id, which is the network id ECS `nics[].subnet_id` wants.
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub cidr: String,
    #[serde(default)]
    pub gateway_ip: String,
    #[serde(default)]
    pub vpc_id: String,
    #[serde(default)]
    pub status: String,
    pub availability_zone: Option<String>,
    pub neutron_network_id: Option<String>,
    pub neutron_subnet_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

wrapper!(pub(crate) SubnetEnvelope { subnet: Subnet });
wrapper!(pub(crate) SubnetList { subnets: [Subnet] });

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SubnetCreate {
    pub name: String,
    pub cidr: String,
    pub gateway_ip: String,
    pub vpc_id: String,
    #[serde(rename = "dnsList", skip_serializing_if = "Vec::is_empty")]
    pub dns_list: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_dns: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary_dns: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dhcp_enable: Option<bool>,
}

/// A v1 security group rule (allow-only).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroupRule {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_group_id: Option<String>,
    pub direction: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ethertype: Option<String>,
    /// tcp, udp, icmp, a number, or none for all.
    #[serde(default, deserialize_with = "lenient_string", skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_range_min: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_range_max: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_ip_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SecurityGroup {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub vpc_id: Option<String>,
    #[serde(default)]
    pub security_group_rules: Vec<SecurityGroupRule>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

wrapper!(pub(crate) SecurityGroupList { security_groups: [SecurityGroup] });
wrapper!(pub(crate) SecurityGroupEnvelope { security_group: SecurityGroup });
wrapper!(pub(crate) RuleEnvelope { security_group_rule: SecurityGroupRule });
wrapper!(pub(crate) RuleList { security_group_rules: [SecurityGroupRule] });

/// A v3 security group rule (allow or deny, with priority).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroupRuleV3 {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_group_id: Option<String>,
    pub direction: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ethertype: Option<String>,
    #[serde(default, deserialize_with = "lenient_string", skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// `"22"`, `"1-30"`, `"22,3389,80"` or none for all ports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multiport: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// 1 is the highest.
    #[serde(default, deserialize_with = "lenient_u64", skip_serializing_if = "Option::is_none")]
    pub priority: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_ip_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_group_id: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SecurityGroupV3 {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub security_group_rules: Vec<SecurityGroupRuleV3>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

wrapper!(pub(crate) SecurityGroupV3Envelope { security_group: SecurityGroupV3 });
wrapper!(pub(crate) RuleV3Envelope { security_group_rule: SecurityGroupRuleV3 });
wrapper!(pub(crate) RuleV3List { security_group_rules: [SecurityGroupRuleV3] });

fn cidr_contains(prefix: Option<&str>, ip: Ipv4Addr) -> bool {
    let Some(prefix) = prefix.filter(|p| !p.is_empty()) else {
        return true; // no prefix = any source
    };
    let (net, len) = match prefix.split_once('/') {
        Some((n, l)) => (n, l.parse::<u32>().ok()),
        None => (prefix, Some(32)),
    };
    let (Ok(net), Some(len)) = (net.parse::<Ipv4Addr>(), len) else {
        return false;
    };
    if len > 32 {
        return false;
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    (u32::from(net) & mask) == (u32::from(ip) & mask)
}

fn is_ipv4(ethertype: Option<&str>) -> bool {
    ethertype.is_none_or(|e| e.eq_ignore_ascii_case("IPv4"))
}

fn is_tcp(protocol: Option<&str>) -> bool {
    protocol.is_none_or(|p| p.is_empty() || p.eq_ignore_ascii_case("tcp") || p == "6" || p.eq_ignore_ascii_case("any"))
}

fn multiport_covers(multiport: Option<&str>, port: u32) -> bool {
    let Some(m) = multiport.filter(|m| !m.trim().is_empty()) else {
        return true;
    };
    m.split(',').any(|part| match part.trim().split_once('-') {
        Some((a, b)) => matches!((a.trim().parse::<u32>(), b.trim().parse::<u32>()), (Ok(a), Ok(b)) if a <= port && port <= b),
        None => part.trim().parse::<u32>() == Ok(port),
    })
}

/// Whether v1 ingress rules let `source` reach TCP `port` (a rule with a remote group counts).
pub fn v1_rules_allow_tcp(rules: &[SecurityGroupRule], port: u32, source: Ipv4Addr) -> bool {
    rules.iter().any(|r| {
        r.direction == "ingress"
            && is_ipv4(r.ethertype.as_deref())
            && is_tcp(r.protocol.as_deref())
            && r.port_range_min.is_none_or(|min| min <= port)
            && r.port_range_max.is_none_or(|max| port <= max)
            && (r.remote_group_id.is_some() || cidr_contains(r.remote_ip_prefix.as_deref(), source))
    })
}

/// Whether v3 ingress rules let `source` reach TCP `port`: the highest-priority matching rule
/// decides, and a deny wins a tie.
pub fn v3_rules_allow_tcp(rules: &[SecurityGroupRuleV3], port: u32, source: Ipv4Addr) -> bool {
    let mut matching: Vec<&SecurityGroupRuleV3> = rules
        .iter()
        .filter(|r| {
            r.direction == "ingress"
                && is_ipv4(r.ethertype.as_deref())
                && is_tcp(r.protocol.as_deref())
                && multiport_covers(r.multiport.as_deref(), port)
                && (r.remote_group_id.is_some() || cidr_contains(r.remote_ip_prefix.as_deref(), source))
        })
        .collect();
    let is_deny = |r: &SecurityGroupRuleV3| r.action.as_deref().is_some_and(|a| a.eq_ignore_ascii_case("deny"));
    matching.sort_by_key(|r| (r.priority.unwrap_or(1), !is_deny(r)));
    matching.first().is_some_and(|r| !is_deny(r))
}

// ---------------------------------------------------------------- EIP

#[derive(Clone, Debug, Deserialize)]
pub struct PublicIp {
    pub id: String,
    #[serde(default)]
    pub status: String,
    pub public_ip_address: Option<String>,
    pub private_ip_address: Option<String>,
    pub port_id: Option<String>,
    pub bandwidth_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub bandwidth_size: Option<u64>,
    pub alias: Option<String>,
    #[serde(rename = "type")]
    pub ip_type: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

wrapper!(pub(crate) PublicIpEnvelope { publicip: PublicIp });
wrapper!(pub(crate) PublicIpList { publicips: [PublicIp] });

/// What to create: `POST /v1/{pid}/publicips`.
#[derive(Clone, Debug, PartialEq)]
pub struct EipCreate {
    /// `5_bgp` by default.
    pub ip_type: String,
    /// Unique name used to find the EIP again after an ambiguous create failure.
    pub alias: Option<String>,
    pub bandwidth_name: String,
    pub bandwidth_size: u32,
    /// PER or WHOLE.
    pub share_type: String,
    /// traffic or bandwidth.
    pub charge_mode: String,
    pub enterprise_project_id: Option<String>,
}

impl EipCreate {
    pub fn new(alias: &str, bandwidth_size: u32) -> EipCreate {
        EipCreate {
            ip_type: "5_bgp".into(),
            alias: Some(alias.to_string()),
            bandwidth_name: format!("{alias}-bandwidth"),
            bandwidth_size,
            share_type: "PER".into(),
            charge_mode: "traffic".into(),
            enterprise_project_id: None,
        }
    }

    pub(crate) fn body(&self) -> Value {
        let mut publicip = serde_json::json!({"type": self.ip_type});
        if let Some(a) = &self.alias {
            publicip["alias"] = Value::String(a.clone());
        }
        let mut body = serde_json::json!({
            "publicip": publicip,
            "bandwidth": {"name": self.bandwidth_name, "size": self.bandwidth_size, "share_type": self.share_type, "charge_mode": self.charge_mode},
        });
        if let Some(ep) = &self.enterprise_project_id {
            body["enterprise_project_id"] = Value::String(ep.clone());
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(v: Value) -> Job {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn job_entities_give_server_and_image_ids() {
        let j = job(json!({"job_id":"j","status":"SUCCESS","entities":{"sub_jobs_total":1,"sub_jobs":[{"status":"SUCCESS","entities":{"server_id":"srv-1"}}]}}));
        assert_eq!(j.server_id(), Some("srv-1"));
        let j = job(json!({"job_id":"j","status":"SUCCESS","entities":{"server_id":"srv-2"}}));
        assert_eq!(j.server_id(), Some("srv-2"));
        let j = job(json!({"job_id":"j","status":"SUCCESS","entities":{"image_id":"img-1","process_percent":1.0}}));
        assert_eq!(j.image_id(), Some("img-1"));
        let j = job(json!({"job_id":"j","status":"SUCCESS","entities":{"sub_jobs_result":[{"status":"SUCCESS","entities":{"image_id":"img-2"}}]}}));
        assert_eq!(j.image_id(), Some("img-2"));
        let j = job(json!({"job_id":"j","status":"RUNNING","entities":{"sub_jobs":[]}}));
        assert_eq!((j.server_id(), j.image_id()), (None, None));
        let j = job(json!({"job_id":"j","status":"RUNNING","entities":{}, "error_code": null}));
        assert_eq!(j.error_code, None);
    }

    #[test]
    fn job_failure_reason_falls_back_to_sub_jobs() {
        let j = job(json!({"job_id":"j","status":"FAIL","error_code":"Ecs.0001","fail_reason":"quota exceeded"}));
        assert!(j.is_failed());
        assert_eq!((j.failure_code(), j.failure_reason()), ("Ecs.0001".into(), "quota exceeded".into()));
        let j = job(json!({"job_id":"j","status":"FAIL","entities":{"sub_jobs":[{"status":"FAIL","error_code":"Ecs.0610","fail_reason":"no capacity"}]}}));
        assert_eq!((j.failure_code(), j.failure_reason()), ("Ecs.0610".into(), "no capacity".into()));
        let j = job(json!({"job_id":"j","status":"FAIL","code":404}));
        assert_eq!(j.failure_code(), "404");
    }

    #[test]
    fn server_create_body_uses_api_names() {
        let s = ServerCreate {
            name: "n".into(),
            image_ref: "img".into(),
            flavor_ref: "s6.large.2".into(),
            vpcid: "vpc".into(),
            nics: vec![NicSpec { subnet_id: "net".into(), ip_address: None }],
            root_volume: RootVolume { volumetype: "SSD".into(), size: Some(40) },
            publicip: Some(json!({"id":"eip"})),
            ..Default::default()
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v, json!({"name":"n","imageRef":"img","flavorRef":"s6.large.2","vpcid":"vpc","nics":[{"subnet_id":"net"}],"root_volume":{"volumetype":"SSD","size":40},"publicip":{"id":"eip"}}));
    }

    #[test]
    fn server_addresses() {
        let s: Server = serde_json::from_value(json!({"id":"s","status":"ACTIVE","addresses":{"vpc":[
            {"version":4,"addr":"172.16.0.5","OS-EXT-IPS:type":"fixed"},
            {"version":"4","addr":"10.1.2.3","OS-EXT-IPS:type":"floating"}]}, "progress": 100})).unwrap();
        assert_eq!(s.floating_ip(), Some("10.1.2.3"));
        assert_eq!(s.fixed_ip(), Some("172.16.0.5"));
        assert_eq!(s.extra.get("progress"), Some(&json!(100)));
    }

    #[test]
    fn keypair_debug_hides_the_private_key() {
        let k: Keypair = serde_json::from_value(json!({"name":"k","public_key":"ssh-ed25519 AAA","private_key":"-----BEGIN SECRET-----"})).unwrap();
        let shown = format!("{k:?} {k}");
        assert!(!shown.contains("BEGIN SECRET") && shown.contains("<sensitive>"), "{shown}");
    }

    #[test]
    fn flavor_numbers_may_be_strings() {
        let f: Flavor = serde_json::from_value(json!({"id":"s6.large.2","name":"s6.large.2","vcpus":"2","ram":4096,"disk":"0"})).unwrap();
        assert_eq!((f.vcpus, f.ram), (Some(2), Some(4096)));
    }

    #[test]
    fn v1_port_check() {
        let ip: Ipv4Addr = "203.0.113.7".parse().unwrap();
        let rule = |proto: Option<&str>, min: Option<u32>, max: Option<u32>, prefix: Option<&str>| SecurityGroupRule {
            direction: "ingress".into(),
            ethertype: Some("IPv4".into()),
            protocol: proto.map(Into::into),
            port_range_min: min,
            port_range_max: max,
            remote_ip_prefix: prefix.map(Into::into),
            ..Default::default()
        };
        assert!(v1_rules_allow_tcp(&[rule(Some("tcp"), Some(22), Some(22), Some("0.0.0.0/0"))], 22, ip));
        assert!(v1_rules_allow_tcp(&[rule(None, None, None, Some("203.0.113.0/24"))], 22, ip));
        assert!(!v1_rules_allow_tcp(&[rule(Some("tcp"), Some(80), Some(443), Some("0.0.0.0/0"))], 22, ip));
        assert!(!v1_rules_allow_tcp(&[rule(Some("udp"), None, None, None)], 22, ip));
        assert!(!v1_rules_allow_tcp(&[rule(Some("tcp"), Some(22), Some(22), Some("198.51.100.0/24"))], 22, ip));
        let mut egress = rule(Some("tcp"), None, None, None);
        egress.direction = "egress".into();
        assert!(!v1_rules_allow_tcp(&[egress], 22, ip));
        let mut group = rule(Some("tcp"), Some(22), Some(22), None);
        group.remote_group_id = Some("sg".into());
        group.remote_ip_prefix = Some("10.0.0.0/8".into());
        assert!(v1_rules_allow_tcp(&[group], 22, ip));
    }

    #[test]
    fn v3_port_check_honours_priority_and_deny() {
        let ip: Ipv4Addr = "203.0.113.7".parse().unwrap();
        let rule = |multiport: Option<&str>, action: &str, priority: u64| SecurityGroupRuleV3 {
            direction: "ingress".into(),
            protocol: Some("tcp".into()),
            multiport: multiport.map(Into::into),
            action: Some(action.into()),
            priority: Some(priority),
            remote_ip_prefix: Some("0.0.0.0/0".into()),
            ..Default::default()
        };
        assert!(v3_rules_allow_tcp(&[rule(Some("22,3389"), "allow", 1)], 22, ip));
        assert!(v3_rules_allow_tcp(&[rule(Some("1-30"), "allow", 1)], 22, ip));
        assert!(!v3_rules_allow_tcp(&[rule(Some("23-30"), "allow", 1)], 22, ip));
        assert!(!v3_rules_allow_tcp(&[rule(Some("22"), "allow", 50), rule(None, "deny", 10)], 22, ip));
        assert!(v3_rules_allow_tcp(&[rule(Some("22"), "allow", 5), rule(None, "deny", 10)], 22, ip));
        assert!(!v3_rules_allow_tcp(&[rule(Some("22"), "allow", 5), rule(None, "deny", 5)], 22, ip));
        let parsed: SecurityGroupRuleV3 = serde_json::from_value(json!({"direction":"ingress","priority":"1","multiport":null,"protocol":null})).unwrap();
        assert_eq!(parsed.priority, Some(1));
    }

    #[test]
    fn absent_optional_fields_read_as_none_and_required_ones_are_refused() {
        let s: Server = serde_json::from_value(json!({"id":"s"})).unwrap();
        assert_eq!((s.availability_zone, s.key_name, s.name.as_str()), (None, None, ""));
        let a: Address = serde_json::from_value(json!({"addr":"10.0.0.1"})).unwrap();
        assert_eq!((a.version, a.ip_type, a.port_id), (None, None, None));
        let i: Image = serde_json::from_value(json!({"id":"i"})).unwrap();
        assert_eq!((i.visibility, i.owner, i.min_disk, i.image_type), (None, None, None, None));
        let e: PublicIp = serde_json::from_value(json!({"id":"e","public_ip_address":null})).unwrap();
        assert_eq!((e.public_ip_address, e.port_id, e.bandwidth_size, e.ip_type), (None, None, None, None));
        let r: SecurityGroupRule = serde_json::from_value(json!({"direction":"ingress"})).unwrap();
        assert_eq!(serde_json::to_value(&r).unwrap(), json!({"direction":"ingress"}));
        let r: SecurityGroupRuleV3 = serde_json::from_value(json!({"direction":"egress","protocol":6})).unwrap();
        assert_eq!(serde_json::to_value(&r).unwrap(), json!({"direction":"egress","protocol":"6"}));
        let z: ZonesV1 = serde_json::from_value(json!({})).unwrap();
        assert!(z.availability_zones.is_empty());
        let l: VpcList = serde_json::from_value(json!({"vpcs":[{"id":"v"}]})).unwrap();
        assert_eq!(l.vpcs[0].id, "v");
        assert!(serde_json::from_value::<Server>(json!({"name":"s"})).is_err());
        assert!(serde_json::from_value::<SecurityGroupRule>(json!({})).is_err());
        assert!(serde_json::from_value::<VpcEnvelope>(json!({"vpcs":[]})).is_err());
    }

    #[test]
    fn eip_body_uses_snake_names() {
        let v = EipCreate::new("cce-eip-1", 10).body();
        assert_eq!(v, json!({"publicip":{"type":"5_bgp","alias":"cce-eip-1"},"bandwidth":{"name":"cce-eip-1-bandwidth","size":10,"share_type":"PER","charge_mode":"traffic"}}));
    }
}
