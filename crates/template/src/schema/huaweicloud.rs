//! `source "huaweicloud-ecs"`: every field of plugin v0.4.0 and v1.x, mapped onto the one
//! behaviour we implement (v1.x's native ECS/VPC/EIP/EVS/IMS APIs). Without credentials the
//! source targets the embedded local cloud, which fills in what is left empty.

use std::collections::BTreeMap;

use serde::Serialize;

use super::communicator::{self, COMMUNICATOR_FIELDS, Communicator};
use super::fields::{Field, GoDuration, Origin, Reader, Req, Ty, field, redact, redact_opt};
use crate::body::Block;
use crate::diag::{Diagnostic, Diagnostics, Span};

/// The huaweicloud-ecs fields (the communicator fields come from [`COMMUNICATOR_FIELDS`]).
pub static HUAWEI_ECS_FIELDS: &[Field] = &[
    // Access.
    field("access_key", Ty::String, "Access key (AK). Empty together with `secret_key`: the build runs in the embedded local cloud.").req(Req::Cloud).def("env `HW_ACCESS_KEY`"),
    field("secret_key", Ty::String, "Secret key (SK). Empty together with `access_key`: the build runs in the embedded local cloud.").req(Req::Cloud).def("env `HW_SECRET_KEY`"),
    field("region", Ty::String, "Region, e.g. `ru-moscow-1`.").req(Req::Cloud).def("env `HW_REGION_NAME`"),
    field("project_name", Ty::String, "Project looked up in IAM when `project_id` is not set.").def("env `HW_PROJECT_NAME`, else `region`"),
    field("project_id", Ty::String, "Project ID; when unset it is resolved through IAM by `project_name`.").def("env `HW_PROJECT_ID`"),
    field("auth_url", Ty::String, "IAM endpoint; the other service endpoints are derived from its domain as v1.x does. For Cloud.ru: `https://iam.ru-moscow-1.hc.sbercloud.ru/v3`.").def("env `HW_AUTH_URL`, else `https://iam.<region>.myhuaweicloud.com/v3`"),
    field("insecure", Ty::Bool, "Skip TLS certificate verification.").def("false"),
    field("security_token", Ty::String, "Security token of temporary AK/SK.").def("env `HW_SECURITY_TOKEN`").from(Origin::V1),
    field("cloud", Ty::String, "Accepted and ignored with a warning, as v1.x overwrites it: the domain comes from `auth_url`.").from(Origin::V1),
    // Source image.
    field("source_image", Ty::String, "Base image ID (for CCE: the CCE node base image). Exactly one of `source_image`, `source_image_name`, `source_image_filter` is required with credentials.").req(Req::Cloud),
    field("source_image_name", Ty::String, "Base image name, looked up in IMS (`GET /v2/cloudimages?name=`), newest first.").req(Req::Cloud),
    field("source_image_filter", Ty::Block, "`filters { name, owner, visibility, tag, properties }` and `most_recent`: looked up in IMS among active images, newest first. Not used (with a warning) when `source_image` or `source_image_name` is set, as in the plugin. `visibility` maps to IMS `__imagetype` (`public` becomes `gold`; `private`, `market`, `shared` as is; v0.4.0's `community` has no IMS equivalent and is refused). v0.4.0's `properties` are matched against the image's fields client-side. Without `most_recent`, more than one match is an error (v0.4.0); with it, the newest is taken.").req(Req::Cloud),
    // Server.
    field("flavor", Ty::String, "Flavor ID, e.g. `s7n.large.2`.").req(Req::Cloud),
    field("availability_zone", Ty::String, "Availability zone; unset picks one of the region's zones."),
    field("vpc_id", Ty::String, "VPC of the server. With `subnets`: both or neither; neither creates a temporary VPC and subnet (v1.x). v0.4.0 only used it as a switch."),
    field("subnets", Ty::StringList, "Subnet IDs for the server's NICs, the first one primary."),
    field("networks", Ty::StringList, "Nova network UUIDs. On Huawei Cloud a network ID is the subnet ID, so they are appended to `subnets` (and need `vpc_id`).").from(Origin::V04),
    field("ports", Ty::StringList, "").from(Origin::V04).refused("attaching pre-created Neutron ports is not possible through the ECS API; use subnets (with vpc_id) instead"),
    field("security_groups", Ty::StringList, "Security groups. Entries that look like IDs (UUIDs) are IDs (v1.x); others are names (v0.4.0), resolved to IDs at build time. v1.x's dropping of entries containing \"default\" is not copied: the name `default` resolves to the default group. Empty: the default group."),
    field("floating_ip", Ty::String, "ID of an existing EIP to bind; it is never deleted."),
    field("reuse_ips", Ty::Bool, "Bind the first unbound EIP of the project instead of creating one; it is never deleted.").def("false"),
    field("associate_public_ip_address", Ty::Bool, "Whether the server gets an EIP. False: SSH goes to the private IP, and the EIP fields are errors.").def("true").from(Origin::V1),
    field("eip_type", Ty::String, "Type of the temporary EIP. A temporary EIP is created when `eip_bandwidth_size` is above 0 (v1.x; v0.4.0 also needed `eip_type`, which the default covers).").def("5_bgp"),
    field("eip_bandwidth_size", Ty::Number, "Bandwidth of the temporary EIP in Mbit/s (per-EIP, charged by traffic).").def("0"),
    field("user_data", Ty::String, "Cloud-init user data, base64-encoded unless it already is. Conflicts with `user_data_file` (v0.4.0 let the file win silently)."),
    field("user_data_file", Ty::String, "File holding the user data; it must exist when the build starts."),
    field("instance_name", Ty::String, "Server name.").def("`image_name`"),
    field("instance_metadata", Ty::StringMap, "Server metadata; keys and values at most 255 bytes."),
    field("config_drive", Ty::Bool, "Only `false` is accepted: the ECS API has no config drive; user data reaches the server through the metadata service.").def("false").from(Origin::V04),
    field("force_delete", Ty::Bool, "Accepted with any value: deletion is always forced (ECS batch delete with its volumes, not waiting for a graceful stop).").def("false").from(Origin::V04),
    field("use_blockstorage_volume", Ty::Bool, "Accepted for compatibility: the system disk is always an EVS volume (v0.4.0 forced this to true; `false` gets a warning).").def("true").from(Origin::V04),
    field("volume_name", Ty::String, "").from(Origin::V04).refused("the system disk is created with the server and cannot be named (removed in plugin v1.0.0); remove volume_name"),
    field("volume_type", Ty::String, "EVS type of the system disk: `SATA`, `SAS`, `SSD`, `GPSSD`, `ESSD`, `GPSSD2`, `ESSD2`.").def("SSD"),
    field("volume_size", Ty::Number, "System disk size in GB.").def("the image's minimum disk"),
    field("ssh_interface", Ty::String, "").from(Origin::V04).refused("SSH goes to the EIP, or to the private IP when associate_public_ip_address is false; set ssh_host to force an address"),
    field("ssh_ip_version", Ty::String, "`4` or `6`: which address family to connect over."),
    field("data_disks", Ty::BlockList, "Extra EVS disks: each block has exactly one of `volume_size`, `data_image_id`, `snapshot_id`, `volume_id`, plus `volume_type` (default `SSD`) and `kms_key_id`.").from(Origin::V1),
    // Image.
    field("image_name", Ty::String, "Name of the private image to create.").req(Req::Yes),
    field("image_description", Ty::String, "Image description."),
    field("image_tags", Ty::StringMap, "Image tags."),
    field("image_members", Ty::StringList, "Project IDs the image is shared with."),
    field("image_auto_accept_members", Ty::Bool, "Accepted with a warning when true, as in v1.x: each member project must accept the share itself.").def("false"),
    field("image_min_disk", Ty::Number, "Minimum disk of the image in GB; honoured after creation with IMS `PATCH /v2/cloudimages/{id}` (`/min_disk`).").from(Origin::V04),
    field("image_type", Ty::String, "`system`, `data-disk`, `system-data` or `full-ecs` (needs `vault_id`).").def("`system` without data_disks; else `full-ecs` with vault_id, else `data-disk`").from(Origin::V1),
    field("enterprise_project_id", Ty::String, "Enterprise project of every created resource.").def("env `HW_ENTERPRISE_PROJECT_ID`").from(Origin::V1),
    field("spot_pricing", Ty::Bool, "Create a spot server.").def("false").from(Origin::V1),
    field("spot_maximum_price", Ty::String, "Highest spot price; only with `spot_pricing`.").from(Origin::V1),
    field("kms_key_id", Ty::String, "KMS key encrypting the system disk.").from(Origin::V1),
    field("vault_id", Ty::String, "CBR vault, needed for `image_type = \"full-ecs\"`.").from(Origin::V1),
    field("wait_image_ready_timeout", Ty::Duration, "How long to wait for the image job. An invalid value is an error (v1.x silently used 30m).").def("30m").from(Origin::V1),
];

pub static SOURCE_IMAGE_FILTER_FIELDS: &[Field] = &[
    field("filters", Ty::Block, "What the image must match."),
    field("most_recent", Ty::Bool, "Take the newest match when several match.").def("false"),
];

pub static FILTERS_FIELDS: &[Field] = &[
    field("name", Ty::String, "Image name."),
    field("owner", Ty::String, "Owner project ID."),
    field("visibility", Ty::String, "`public` (IMS `gold`), `private`, `market` or `shared`."),
    field("tag", Ty::String, "IMS tag filter, `key.value`.").from(Origin::V1),
    field("properties", Ty::StringMap, "Image fields that must have these values, matched client-side.").from(Origin::V04),
];

pub static DATA_DISK_FIELDS: &[Field] = &[
    field("volume_size", Ty::Number, "Size in GB of a new empty disk."),
    field("data_image_id", Ty::String, "Data-disk image to create the disk from."),
    field("snapshot_id", Ty::String, "Snapshot to create the disk from."),
    field("volume_id", Ty::String, "Existing disk to attach; it must be in the chosen AZ."),
    field("volume_type", Ty::String, "EVS type.").def("SSD"),
    field("kms_key_id", Ty::String, "KMS key encrypting the disk."),
];

const VOLUME_TYPES: &[&str] = &["SATA", "SAS", "SSD", "GPSSD", "ESSD", "GPSSD2", "ESSD2"];

/// A security group as written: v1.x takes IDs, v0.4.0 took names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityGroupRef {
    Id(String),
    /// Resolved to an ID through the VPC API when the build starts.
    Name(String),
}

impl SecurityGroupRef {
    /// IDs are UUIDs; anything else is taken as a name.
    pub fn parse(s: &str) -> Self {
        let is_uuid = s.len() == 36
            && s.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() });
        if is_uuid { SecurityGroupRef::Id(s.to_string()) } else { SecurityGroupRef::Name(s.to_string()) }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceImage {
    Id(String),
    Name(String),
    Filter(ImageFilter),
}

#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct ImageFilter {
    pub name: Option<String>,
    pub owner: Option<String>,
    /// IMS `__imagetype`: `gold`, `private`, `market` or `shared`.
    pub image_type: Option<String>,
    pub tag: Option<String>,
    pub properties: BTreeMap<String, String>,
    pub most_recent: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserData {
    Inline(String),
    File(String),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataDiskSource {
    Size(u32),
    Image(String),
    Snapshot(String),
    Volume(String),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DataDisk {
    pub source: DataDiskSource,
    pub volume_type: String,
    pub kms_key_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageType {
    System,
    DataDisk,
    SystemData,
    FullEcs,
}

/// A checked `source "huaweicloud-ecs"` with every default filled in.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HuaweiEcsConfig {
    /// No credentials: build in the embedded local cloud, which fills empty fields.
    pub local_cloud: bool,
    #[serde(serialize_with = "redact")]
    pub access_key: String,
    #[serde(serialize_with = "redact")]
    pub secret_key: String,
    pub region: String,
    pub project_name: Option<String>,
    pub project_id: Option<String>,
    pub auth_url: Option<String>,
    pub insecure: bool,
    #[serde(serialize_with = "redact_opt")]
    pub security_token: Option<String>,
    pub source_image: Option<SourceImage>,
    pub flavor: Option<String>,
    pub availability_zone: Option<String>,
    pub vpc_id: Option<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<SecurityGroupRef>,
    pub floating_ip: Option<String>,
    pub reuse_ips: bool,
    pub associate_public_ip_address: bool,
    pub eip_type: String,
    pub eip_bandwidth_size: u32,
    pub user_data: Option<UserData>,
    pub instance_name: Option<String>,
    pub instance_metadata: BTreeMap<String, String>,
    pub volume_type: String,
    pub volume_size: Option<u32>,
    pub ssh_ip_version: Option<u8>,
    pub data_disks: Vec<DataDisk>,
    pub image_name: Option<String>,
    pub image_description: Option<String>,
    pub image_tags: BTreeMap<String, String>,
    pub image_members: Vec<String>,
    pub image_min_disk: Option<u32>,
    pub image_type: ImageType,
    pub enterprise_project_id: Option<String>,
    pub spot_pricing: bool,
    pub spot_maximum_price: Option<String>,
    pub kms_key_id: Option<String>,
    pub vault_id: Option<String>,
    pub wait_image_ready_timeout: GoDuration,
    pub communicator: Communicator,
    /// The block keyword, where errors about missing fields point.
    #[serde(skip)]
    pub span: Option<Span>,
}

/// Reads and checks a `source "huaweicloud-ecs"` block (or a build's merged copy of it).
pub(crate) fn read(
    block: &Block,
    what: &str,
    check_required: bool,
    env: &BTreeMap<String, String>,
) -> (HuaweiEcsConfig, Diagnostics) {
    let mut r = Reader::new(block, &[HUAWEI_ECS_FIELDS, COMMUNICATOR_FIELDS], what);
    for key in ["access_key", "secret_key"] {
        if let Some(a) = block.attribute(key) {
            let non_empty = matches!(&a.value, crate::body::AttrValue::Known(hcl::Value::String(s)) if !s.is_empty());
            if a.literal && non_empty {
                r.diags.push(
                    Diagnostic::warning(format!("\"{key}\" is written in the template; pass it through a variable bound to the environment"))
                        .at(a.value_span)
                        .help(format!("declare variable \"{key}\" {{ default = env(\"HW_{}\") sensitive = true }} and use var.{key}", key.to_uppercase())),
                );
            }
        }
    }
    if let Some(a) = r.attr("cloud") {
        r.diags.push(Diagnostic::warning("\"cloud\" is ignored: the service domain is derived from auth_url").at(a.name_span));
    }

    let source_image = read_source_image(&mut r);

    let vpc_id = r.string("vpc_id");
    let mut subnets = r.list("subnets").unwrap_or_default();
    subnets.extend(r.list("networks").unwrap_or_default());
    let security_groups = r.list("security_groups").unwrap_or_default().iter().map(|s| SecurityGroupRef::parse(s)).collect();

    let associate = r.bool("associate_public_ip_address").unwrap_or(true);
    if !associate {
        for f in ["eip_type", "eip_bandwidth_size", "floating_ip", "reuse_ips"] {
            if r.has(f) {
                let span = r.span(f);
                r.error_at(span, format!("\"{f}\" cannot be set when \"associate_public_ip_address\" is false")).help =
                    Some("the server gets no EIP: remove this field or set associate_public_ip_address = true".into());
            }
        }
    }
    let floating_ip = r.string("floating_ip");
    let reuse_ips = r.bool("reuse_ips").unwrap_or(false);
    if floating_ip.is_some() && reuse_ips {
        let span = r.span("reuse_ips");
        r.error_at(span, "\"reuse_ips\" and \"floating_ip\" are both set").help = Some("keep floating_ip to bind that EIP, or reuse_ips to take any unbound one".into());
    }

    r.at_most_one(&["user_data", "user_data_file"]);
    let user_data = r.string("user_data_file").map(UserData::File).or_else(|| r.string("user_data").map(UserData::Inline));

    let instance_metadata = r.map("instance_metadata").unwrap_or_default();
    for (k, v) in &instance_metadata {
        if k.len() > 255 || v.len() > 255 {
            let span = r.attr("instance_metadata").map_or(block.kind_span, |a| a.value_span);
            r.error_at(span, format!("instance_metadata \"{}\" is longer than 255 bytes", truncate(k, 40)));
        }
    }

    if r.bool("config_drive") == Some(true) {
        let span = r.span("config_drive");
        r.diags.push(
            super::fields::refusal("config_drive = true", "the ECS API has no config drive; user data reaches the server through the metadata service, remove config_drive")
                .at(span),
        );
    }
    r.bool("force_delete");
    if r.bool("use_blockstorage_volume") == Some(false) {
        let span = r.span("use_blockstorage_volume");
        r.diags.push(Diagnostic::warning("\"use_blockstorage_volume = false\" is ignored: the system disk is always an EVS volume").at(span));
    }

    let volume_type = r.one_of("volume_type", VOLUME_TYPES).unwrap_or_else(|| "SSD".into());
    let volume_size = r.int("volume_size", 1, 32768).map(|n| n as u32);
    let ssh_ip_version = r.one_of("ssh_ip_version", &["4", "6"]).and_then(|v| v.parse().ok());
    let data_disks = read_data_disks(&mut r, what);

    let image_name = r.string("image_name");
    if check_required {
        r.require("image_name", &image_name, "set image_name to the name of the image to create");
    }
    if r.bool("image_auto_accept_members") == Some(true) {
        let span = r.span("image_auto_accept_members");
        r.diags.push(
            Diagnostic::warning("\"image_auto_accept_members\" is ignored: each member project must accept the shared image itself").at(span),
        );
    }
    let vault_id = r.string("vault_id");
    let image_type = match r.one_of("image_type", &["system", "data-disk", "system-data", "full-ecs"]).as_deref() {
        Some("system") => ImageType::System,
        Some("data-disk") => ImageType::DataDisk,
        Some("system-data") => ImageType::SystemData,
        Some("full-ecs") => ImageType::FullEcs,
        _ if data_disks.is_empty() => ImageType::System,
        _ if vault_id.is_some() => ImageType::FullEcs,
        _ => ImageType::DataDisk,
    };
    if image_type == ImageType::FullEcs && vault_id.is_none() {
        let span = r.span("image_type");
        r.error_at(span, "\"vault_id\" must be set when image_type is \"full-ecs\"").help = Some("a full-ECS image is made through a CBR vault: set vault_id".into());
    }
    if matches!(image_type, ImageType::DataDisk | ImageType::SystemData) && data_disks.is_empty() && r.has("image_type") {
        let span = r.span("image_type");
        r.error_at(span, "image_type \"data-disk\" and \"system-data\" need at least one data_disks block");
    }
    let spot_pricing = r.bool("spot_pricing").unwrap_or(false);
    let spot_maximum_price = r.string("spot_maximum_price");
    if spot_maximum_price.is_some() && !spot_pricing {
        let span = r.span("spot_maximum_price");
        r.error_at(span, "\"spot_maximum_price\" is set but \"spot_pricing\" is not true").help = Some("set spot_pricing = true to create a spot server".into());
    }

    let communicator = communicator::read(&mut r, check_required);
    let mut cfg = HuaweiEcsConfig {
        local_cloud: false,
        access_key: r.string("access_key").unwrap_or_default(),
        secret_key: r.string("secret_key").unwrap_or_default(),
        region: r.string("region").unwrap_or_default(),
        project_name: r.string("project_name"),
        project_id: r.string("project_id"),
        auth_url: r.string("auth_url"),
        insecure: r.bool("insecure").unwrap_or(false),
        security_token: r.string("security_token"),
        source_image,
        flavor: r.string("flavor"),
        availability_zone: r.string("availability_zone"),
        vpc_id,
        subnets,
        security_groups,
        floating_ip,
        reuse_ips,
        associate_public_ip_address: associate,
        eip_type: r.string("eip_type").unwrap_or_else(|| "5_bgp".into()),
        eip_bandwidth_size: r.int("eip_bandwidth_size", 0, 100_000).map_or(0, |n| n as u32),
        user_data,
        instance_name: r.string("instance_name").or_else(|| image_name.clone()),
        instance_metadata,
        volume_type,
        volume_size,
        ssh_ip_version,
        data_disks,
        image_name,
        image_description: r.string("image_description"),
        image_tags: r.map("image_tags").unwrap_or_default(),
        image_members: r.list("image_members").unwrap_or_default(),
        image_min_disk: r.int("image_min_disk", 0, 1024).filter(|n| *n > 0).map(|n| n as u32),
        image_type,
        enterprise_project_id: r.string("enterprise_project_id"),
        spot_pricing,
        spot_maximum_price,
        kms_key_id: r.string("kms_key_id"),
        vault_id,
        wait_image_ready_timeout: r.duration("wait_image_ready_timeout").unwrap_or(GoDuration::secs(1800)),
        communicator,
        span: Some(block.kind_span),
    };
    let mut diags = r.finish();
    apply_env_defaults(&mut cfg, env);
    if check_required {
        diags.0.extend(check_mode(&cfg));
    }
    (cfg, diags)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { format!("{}...", s.chars().take(n).collect::<String>()) }
}

fn read_source_image(r: &mut Reader<'_>) -> Option<SourceImage> {
    // As in the plugin: an ID and a name conflict; a filter next to either is not used.
    let count = r.at_most_one(&["source_image", "source_image_name"]);
    let id = r.string("source_image");
    let name = r.string("source_image_name");
    let filter = r.block.blocks_of("source_image_filter").next().and_then(|b| {
        let mut fr = Reader::new(b, &[SOURCE_IMAGE_FILTER_FIELDS], "source_image_filter");
        let most_recent = fr.bool("most_recent").unwrap_or(false);
        let mut f = ImageFilter { most_recent, ..ImageFilter::default() };
        if let Some(fb) = b.blocks_of("filters").next() {
            let mut r2 = Reader::new(fb, &[FILTERS_FIELDS], "source_image_filter.filters");
            f.name = r2.string("name");
            f.owner = r2.string("owner");
            f.tag = r2.string("tag");
            f.properties = r2.map("properties").unwrap_or_default();
            if let Some(v) = r2.one_of("visibility", &["public", "private", "market", "shared", "community"]) {
                if v == "community" {
                    let span = r2.attr("visibility").map_or(fb.kind_span, |a| a.value_span);
                    r2.error_at(span, "visibility \"community\" has no equivalent in IMS").help =
                        Some("use \"public\", \"private\", \"market\" or \"shared\"".into());
                } else {
                    f.image_type = Some(if v == "public" { "gold".into() } else { v });
                }
            }
            fr.diags.extend(r2.finish());
        }
        r.diags.extend(fr.finish());
        let empty = f.name.is_none() && f.owner.is_none() && f.image_type.is_none() && f.tag.is_none() && f.properties.is_empty();
        if empty {
            r.error_at(b.kind_span, "\"source_image_filter\" has no filters").help =
                Some("add filters { name = \"...\" } or use source_image with the base image ID".into());
            return None;
        }
        Some(f)
    });
    if count > 1 {
        return None;
    }
    if let (Some(b), true) = (r.block.blocks_of("source_image_filter").next(), count == 1) {
        let other = if id.is_some() { "source_image" } else { "source_image_name" };
        r.diags.push(
            Diagnostic::warning(format!("\"source_image_filter\" is not used because \"{other}\" is set"))
                .at(b.kind_span)
                .help("remove one of them"),
        );
    }
    id.map(SourceImage::Id).or(name.map(SourceImage::Name)).or(filter.map(SourceImage::Filter))
}

fn read_data_disks(r: &mut Reader<'_>, what: &str) -> Vec<DataDisk> {
    let mut out = Vec::new();
    for b in r.block.blocks_of("data_disks") {
        let mut dr = Reader::new(b, &[DATA_DISK_FIELDS], format!("data_disks of {what}"));
        let n = ["volume_size", "data_image_id", "snapshot_id", "volume_id"].iter().filter(|f| dr.has(f)).count();
        let size = dr.int("volume_size", 1, 32768).map(|n| DataDiskSource::Size(n as u32));
        let source = size
            .or_else(|| dr.string("data_image_id").map(DataDiskSource::Image))
            .or_else(|| dr.string("snapshot_id").map(DataDiskSource::Snapshot))
            .or_else(|| dr.string("volume_id").map(DataDiskSource::Volume));
        if n != 1 {
            dr.error_at(b.kind_span, "a data_disks block needs exactly one of \"volume_size\", \"data_image_id\", \"snapshot_id\", \"volume_id\"");
        }
        let volume_type = dr.one_of("volume_type", VOLUME_TYPES).unwrap_or_else(|| "SSD".into());
        let kms_key_id = dr.string("kms_key_id");
        r.diags.extend(dr.finish());
        if let (Some(source), 1) = (source, n) {
            out.push(DataDisk { source, volume_type, kms_key_id });
        }
    }
    out
}

/// Fills empty access fields from the plugin's environment variables, then the derived defaults
/// (`project_name` = region) and the mode (`local_cloud` when both keys are empty).
pub fn apply_env_defaults(cfg: &mut HuaweiEcsConfig, env: &BTreeMap<String, String>) {
    let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
    let fill = |field: &mut String, k: &str| {
        if field.is_empty() {
            if let Some(v) = get(k) {
                *field = v;
            }
        }
    };
    fill(&mut cfg.access_key, "HW_ACCESS_KEY");
    fill(&mut cfg.secret_key, "HW_SECRET_KEY");
    fill(&mut cfg.region, "HW_REGION_NAME");
    for (field, key) in [
        (&mut cfg.project_name, "HW_PROJECT_NAME"),
        (&mut cfg.project_id, "HW_PROJECT_ID"),
        (&mut cfg.auth_url, "HW_AUTH_URL"),
        (&mut cfg.security_token, "HW_SECURITY_TOKEN"),
        (&mut cfg.enterprise_project_id, "HW_ENTERPRISE_PROJECT_ID"),
    ] {
        if field.is_none() {
            *field = get(key);
        }
    }
    if cfg.project_name.is_none() && !cfg.region.is_empty() {
        cfg.project_name = Some(cfg.region.clone());
    }
    cfg.local_cloud = cfg.access_key.is_empty() && cfg.secret_key.is_empty();
    if cfg.local_cloud {
        // Templates write `subnets = [var.network_id]` with the variable defaulting to an unset
        // environment variable; on the local cloud an empty entry means "let the cloud choose",
        // as an empty `vpc_id` or `source_image` does. In the cloud it stays an error.
        cfg.subnets.retain(|s| !s.is_empty());
        cfg.security_groups.retain(|g| !matches!(g, SecurityGroupRef::Name(n) if n.is_empty()));
    }
}

/// The rules that depend on the mode: none for the local cloud; with credentials, what the
/// plugin requires to build in the cloud. Run after [`apply_env_defaults`].
pub fn check_mode(cfg: &HuaweiEcsConfig) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let at = |d: Diagnostic| match cfg.span {
        Some(s) => d.at(s),
        None => d,
    };
    if cfg.local_cloud {
        return out;
    }
    let one_key = |empty: &str, other: &str, env: &str| {
        Diagnostic::error(format!("\"{empty}\" is empty while \"{other}\" is set")).help(format!(
            "set {empty} (or {env}) to build in the cloud, or leave both keys empty to build in the local cloud"
        ))
    };
    if cfg.secret_key.is_empty() {
        out.push(at(one_key("secret_key", "access_key", "HW_SECRET_KEY")));
    }
    if cfg.access_key.is_empty() {
        out.push(at(one_key("access_key", "secret_key", "HW_ACCESS_KEY")));
    }
    if cfg.region.is_empty() {
        out.push(at(Diagnostic::error("\"region\" must be set to build in the cloud").help("set region or HW_REGION_NAME, e.g. \"ru-moscow-1\"")));
    }
    if cfg.flavor.is_none() {
        out.push(at(Diagnostic::error("\"flavor\" must be set to build in the cloud").help("set flavor to a flavor ID, e.g. \"s7n.large.2\"")));
    }
    if cfg.source_image.is_none() {
        out.push(at(Diagnostic::error("one of \"source_image\", \"source_image_name\" or \"source_image_filter\" must be set to build in the cloud")
            .help("for CCE, set source_image to the ID of the CCE node base image")));
    }
    if cfg.subnets.iter().any(String::is_empty) {
        out.push(at(Diagnostic::error("an entry of \"subnets\" (or \"networks\") is empty").help("give the subnet ID (in the kit: set ECS_NETWORK_ID), or leave both vpc_id and subnets empty for a temporary VPC")));
    }
    if cfg.security_groups.iter().any(|g| matches!(g, SecurityGroupRef::Name(n) if n.is_empty())) {
        out.push(at(Diagnostic::error("an entry of \"security_groups\" is empty").help("give the security group ID (in the kit: set ECS_SECGRP_ID), or leave the list empty for the default group")));
    }
    match (&cfg.vpc_id, cfg.subnets.is_empty()) {
        (None, false) => out.push(at(Diagnostic::error("\"subnets\" (or \"networks\") are set but \"vpc_id\" is not").help("set vpc_id to the VPC of these subnets"))),
        (Some(_), true) => out.push(at(Diagnostic::error("\"vpc_id\" is set but \"subnets\" is not").help("set subnets to a subnet of this VPC, or remove vpc_id to use a temporary VPC"))),
        _ => {}
    }
    out
}
