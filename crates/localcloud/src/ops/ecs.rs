//! ECS operations: availability zones, flavors, servers (create v1 and v1.1, show, list, update,
//! tags, stop, start, delete) with their jobs, Nova's view of servers, and Nova keypairs.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{ApiError, Ctx, Reply, Shape};
use crate::backend::ServerSpec;
use crate::config::draw;
use crate::faults::FaultKind;
use crate::world::{
    DataVolume, Eip, Job, JobEntities, Keypair, Server, SubJob, Transition, iso, iso_millis, new_id,
};

/// Availability zones of ru-moscow-1.
pub const AZS: &[&str] = &[
    "ru-moscow-1a",
    "ru-moscow-1b",
    "ru-moscow-1c",
    "ru-moscow-1e",
];

/// A flavor of the catalogue: name, vCPUs, RAM in MiB.
pub struct Flavor {
    pub id: &'static str,
    pub vcpus: u32,
    pub ram: u32,
}

/// A few of the real general-purpose and compute flavors.
pub const FLAVORS: &[Flavor] = &[
    Flavor {
        id: "s7n.large.2",
        vcpus: 2,
        ram: 4096,
    },
    Flavor {
        id: "s7n.xlarge.2",
        vcpus: 4,
        ram: 8192,
    },
    Flavor {
        id: "s7n.2xlarge.2",
        vcpus: 8,
        ram: 16384,
    },
    Flavor {
        id: "s7n.large.4",
        vcpus: 2,
        ram: 8192,
    },
    Flavor {
        id: "s6.large.2",
        vcpus: 2,
        ram: 4096,
    },
    Flavor {
        id: "s6.xlarge.2",
        vcpus: 4,
        ram: 8192,
    },
    Flavor {
        id: "c7n.large.2",
        vcpus: 2,
        ram: 4096,
    },
    Flavor {
        id: "m7n.large.8",
        vcpus: 2,
        ram: 16384,
    },
];

fn flavor(id: &str) -> Option<&'static Flavor> {
    FLAVORS.iter().find(|f| f.id == id)
}

pub fn nova_azs(_ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let zones: Vec<Value> = AZS
        .iter()
        .map(|z| json!({"zoneName": z, "zoneState": {"available": true}, "hosts": null}))
        .collect();
    Reply::ok(json!({"availabilityZoneInfo": zones}))
}

pub fn az_info(_ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let zones: Vec<Value> = AZS
        .iter()
        .map(|z| json!({"availability_zone_id": z, "type": "core", "mode": "on", "alias": {"zh-cn": z, "en-us": z}, "az_group_ids": [], "category": 0, "public_border_group": "center"}))
        .collect();
    Reply::ok(json!({"availability_zones": zones}))
}

fn render_flavor(f: &Flavor) -> Value {
    json!({
        "id": f.id,
        "name": f.id,
        "vcpus": f.vcpus.to_string(),
        "ram": f.ram,
        "disk": "0",
        "swap": "",
        "OS-FLV-EXT-DATA:ephemeral": 0,
        "OS-FLV-DISABLED:disabled": false,
        "rxtx_factor": 1.0,
        "rxtx_quota": null,
        "rxtx_cap": null,
        "os-flavor-access:is_public": true,
        "links": [],
        "os_extra_specs": {
            "ecs:performancetype": if f.id.starts_with('c') { "computingv3" } else { "normal" },
            "cond:operation:status": "normal",
            "cond:operation:az": AZS.iter().map(|z| format!("{z}(normal)")).collect::<Vec<_>>().join(","),
            "resource_type": "IOoptimizedS7n",
        },
    })
}

pub fn flavors(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    if let Some(az) = ctx.q("availability_zone") {
        if !AZS.contains(&az) {
            return Reply::ok(json!({"flavors": []}));
        }
    }
    let mut list: Vec<&Flavor> = FLAVORS
        .iter()
        .filter(|f| ctx.q("flavor_id").is_none_or(|id| id == f.id))
        .collect();
    if let Some(marker) = ctx.q("marker") {
        if let Some(pos) = list.iter().position(|f| f.id == marker) {
            list.drain(..=pos);
        }
    }
    if let Some(limit) = ctx.q_num("limit")? {
        list.truncate(limit);
    }
    Reply::ok(json!({"flavors": list.into_iter().map(render_flavor).collect::<Vec<_>>()}))
}

const NIC: Shape = Shape::Obj(&[
    ("subnet_id", Shape::Any),
    ("port_id", Shape::Any),
    ("ip_address", Shape::Any),
    ("ipv6_enable", Shape::Any),
    ("ipv6_bandwidth", Shape::Any),
    ("allowed_address_pairs", Shape::Any),
    ("efi_enable", Shape::Any),
]);
const ROOT_VOLUME: Shape = Shape::Obj(&[
    ("volumetype", Shape::Any),
    ("size", Shape::Any),
    ("iops", Shape::Any),
    ("throughput", Shape::Any),
    ("hw:passthrough", Shape::Any),
    ("cluster_type", Shape::Any),
    ("cluster_id", Shape::Any),
    ("extendparam", Shape::Any),
    ("metadata", Shape::Any),
]);
const DATA_VOLUME: Shape = Shape::Obj(&[
    ("volumetype", Shape::Any),
    ("size", Shape::Any),
    ("iops", Shape::Any),
    ("throughput", Shape::Any),
    ("shareable", Shape::Any),
    ("multiattach", Shape::Any),
    ("hw:passthrough", Shape::Any),
    ("extendparam", Shape::Any),
    ("cluster_type", Shape::Any),
    ("cluster_id", Shape::Any),
    ("metadata", Shape::Any),
    ("data_image_id", Shape::Any),
    ("delete_on_termination", Shape::Any),
]);
const PUBLICIP: Shape = Shape::Obj(&[
    ("id", Shape::Any),
    ("eip", Shape::Any),
    ("delete_on_termination", Shape::Any),
]);
const SECURITY_GROUPS: Shape = Shape::List(&Shape::Obj(&[("id", Shape::Any)]));

macro_rules! server_shape {
    ($extend:expr) => {
        Shape::Obj(&[
            ("dry_run", Shape::Any),
            (
                "server",
                Shape::Obj(&[
                    ("auto_terminate_time", Shape::Any),
                    ("adminPass", Shape::Any),
                    ("availability_zone", Shape::Any),
                    ("batch_create_in_multi_az", Shape::Any),
                    ("count", Shape::Any),
                    ("data_volumes", Shape::List(&DATA_VOLUME)),
                    ("extendparam", $extend),
                    ("flavorRef", Shape::Any),
                    ("imageRef", Shape::Any),
                    ("isAutoRename", Shape::Any),
                    ("key_name", Shape::Any),
                    ("metadata", Shape::Any),
                    ("name", Shape::Any),
                    ("nics", Shape::List(&NIC)),
                    ("os:scheduler_hints", Shape::Any),
                    ("publicip", PUBLICIP),
                    ("root_volume", ROOT_VOLUME),
                    ("security_groups", SECURITY_GROUPS),
                    ("server_tags", Shape::Any),
                    ("tags", Shape::Any),
                    ("user_data", Shape::Any),
                    ("vpcid", Shape::Any),
                    ("description", Shape::Any),
                    ("cpu_options", Shape::Any),
                    ("security_options", Shape::Any),
                    ("serial_console_options", Shape::Any),
                    ("metadata_options", Shape::Any),
                    ("enclave_options", Shape::Any),
                ]),
            ),
        ])
    };
}

static CREATE_V1: Shape = server_shape!(Shape::Obj(&[
    ("chargingMode", Shape::Any),
    ("regionID", Shape::Any),
    ("support_auto_recovery", Shape::Any),
    ("enterprise_project_id", Shape::Any),
    ("marketType", Shape::Any),
    ("spotPrice", Shape::Any),
    ("diskPrior", Shape::Any),
    ("spot_duration_hours", Shape::Any),
    ("interruption_policy", Shape::Any),
    ("spot_duration_count", Shape::Any),
    ("CB_CSBS_BACKUP", Shape::Any),
]));
static CREATE_V11: Shape = server_shape!(Shape::Obj(&[
    ("chargingMode", Shape::Any),
    ("regionID", Shape::Any),
    ("periodType", Shape::Any),
    ("periodNum", Shape::Any),
    ("isAutoRenew", Shape::Any),
    ("isAutoPay", Shape::Any),
    ("enterprise_project_id", Shape::Any),
    ("support_auto_recovery", Shape::Any),
    ("marketType", Shape::Any),
    ("spotPrice", Shape::Any),
    ("diskPrior", Shape::Any),
    ("spot_duration_hours", Shape::Any),
    ("interruption_policy", Shape::Any),
    ("CB_CSBS_BACKUP", Shape::Any),
    ("spot_duration_count", Shape::Any),
]));

pub fn create_v1(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&CREATE_V1)?;
    if let Some(mode) = ctx.body["server"]
        .get("extendparam")
        .and_then(|e| e.get("chargingMode"))
    {
        if !(mode == &json!(0) || mode == &json!("0") || mode == &json!("postPaid")) {
            return Err(ctx.err(400, format!("`server.extendparam.chargingMode` {mode} is not supported here: this API creates pay-per-use servers only (0)")));
        }
    }
    create(ctx)
}

pub fn create_v11(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&CREATE_V11)?;
    if let Some(mode) = ctx.body["server"]
        .get("extendparam")
        .and_then(|e| e.get("chargingMode"))
    {
        if mode == &json!("prePaid") || mode == &json!(1) {
            return Err(ctx.err(400, "yearly/monthly servers (`chargingMode: prePaid`) are not offered by the local cloud: use `postPaid`"));
        }
        if !(mode == &json!("postPaid") || mode == &json!(0)) {
            return Err(ctx.err(400, format!("`server.extendparam.chargingMode` {mode} is invalid: use `postPaid` or `prePaid`")));
        }
    }
    create(ctx)
}

fn valid_server_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The cloud's rule for a Linux server's `adminPass`: 8-26 characters, at least three of
/// upper case, lower case, digits and the special characters it allows, and neither `root` nor
/// its reverse inside.
fn check_admin_pass(pass: &str) -> Result<(), String> {
    const SPECIAL: &str = "!@$%^-_=+[{}]:,./?~#*";
    let n = pass.chars().count();
    if !(8..=26).contains(&n) {
        return Err(format!("it has {n} characters; use 8-26"));
    }
    if let Some(c) = pass
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !SPECIAL.contains(*c))
    {
        return Err(format!("`{c}` is not allowed; the special characters are {SPECIAL}"));
    }
    let classes = [
        pass.chars().any(|c| c.is_ascii_uppercase()),
        pass.chars().any(|c| c.is_ascii_lowercase()),
        pass.chars().any(|c| c.is_ascii_digit()),
        pass.chars().any(|c| SPECIAL.contains(c)),
    ];
    if classes.iter().filter(|c| **c).count() < 3 {
        return Err("use at least three of: upper case, lower case, digits, special characters".into());
    }
    let lower = pass.to_ascii_lowercase();
    if lower.contains("root") || lower.contains("toor") {
        return Err("it must not contain the user name `root` or its reverse".into());
    }
    Ok(())
}

fn random_mac() -> String {
    let b: [u8; 3] = rand::random();
    format!("fa:16:3e:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2])
}

/// The common part of both create APIs.
fn create(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let s = &ctx.body["server"];
    let p = "server.";
    let name = ctx.str_field(s, p, "name")?.to_string();
    let image_ref = ctx.str_field(s, p, "imageRef")?.to_string();
    let flavor_ref = ctx.str_field(s, p, "flavorRef")?.to_string();
    let vpc_id = ctx.str_field(s, p, "vpcid")?.to_string();
    let count = match s.get("count") {
        None | Some(Value::Null) => 1,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=100) => n as usize,
            _ => {
                return Err(ctx.err(
                    400,
                    format!("`server.count` must be an integer from 1 to 100, got {v}"),
                ));
            }
        },
    };
    let max_name = if count > 1 { 59 } else { 64 };
    if !valid_server_name(&name) || name.chars().count() > max_name {
        return Err(ctx.err(400, format!("`server.name` `{name}` is invalid: use 1-{max_name} letters, digits, `-`, `_` or `.`")));
    }
    if flavor(&flavor_ref).is_none() {
        return Err(ctx.err_code(
            400,
            "Ecs.0023",
            format!("flavor `{flavor_ref}` does not exist; list flavors with ListFlavors"),
        ));
    }
    let Some(img) = super::ims::find_image(ctx, &image_ref) else {
        return Err(ctx.err_code(
            400,
            "Ecs.0039",
            format!("image `{image_ref}` does not exist"),
        ));
    };
    if img["status"] != "active" {
        return Err(ctx.err_code(
            400,
            "Ecs.0039",
            format!(
                "image `{image_ref}` is `{}`, not active",
                img["status"].as_str().unwrap_or("")
            ),
        ));
    }
    let min_disk = img["min_disk"].as_u64().unwrap_or(0) as u32;
    if !ctx.world.vpcs.contains_key(&vpc_id) {
        return Err(ctx.err_code(
            400,
            "Ecs.0005",
            format!("VPC `{vpc_id}` (`server.vpcid`) does not exist"),
        ));
    }
    let az = match ctx.opt_str(s, p, "availability_zone")? {
        Some(az) if !AZS.contains(&az) => {
            return Err(ctx.err(
                400,
                format!(
                    "availability zone `{az}` does not exist; zones: {}",
                    AZS.join(", ")
                ),
            ));
        }
        Some(az) => az.to_string(),
        None => AZS[rand::random_range(0..AZS.len())].to_string(),
    };
    let nics = s
        .get("nics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let Some(first_nic) = nics.first() else {
        return Err(ctx.err(400, "`server.nics` must name at least one subnet"));
    };
    let subnet_id = ctx
        .str_field(first_nic, "server.nics[0].", "subnet_id")?
        .to_string();
    match ctx.world.subnets.get(&subnet_id) {
        None => return Err(ctx.err(400, format!("subnet `{subnet_id}` does not exist (use the VPC-v1 subnet id, which is the network id)"))),
        Some(sn) if sn.vpc_id != vpc_id => {
            return Err(ctx.err(400, format!("subnet `{subnet_id}` is not in VPC `{vpc_id}`")));
        }
        Some(sn) if sn.status != "ACTIVE" => {
            return Err(ctx.err(400, format!("subnet `{subnet_id}` is `{}`, not ACTIVE", sn.status)));
        }
        Some(_) => {}
    }
    let root = s.get("root_volume").cloned().unwrap_or(Value::Null);
    if root.is_null() {
        return Err(ctx.err(400, "`server.root_volume` is required"));
    }
    let volumetype = ctx
        .str_field(&root, "server.root_volume.", "volumetype")?
        .to_string();
    if !["SSD", "SAS", "SATA", "GPSSD", "ESSD", "GPSSD2", "ESSD2"].contains(&volumetype.as_str()) {
        return Err(ctx.err(400, format!("`server.root_volume.volumetype` `{volumetype}` is invalid: use SSD, GPSSD, SAS, SATA or ESSD")));
    }
    let size = match root.get("size") {
        None | Some(Value::Null) => min_disk.max(40),
        Some(v) => match v.as_u64() {
            Some(n) if (1..=1024).contains(&n) => n as u32,
            _ => {
                return Err(ctx.err(
                    400,
                    format!("`server.root_volume.size` must be 1-1024 GB, got {v}"),
                ));
            }
        },
    };
    if size < min_disk {
        return Err(ctx.err(
            400,
            format!(
                "`server.root_volume.size` {size} GB is below the image's min_disk {min_disk} GB"
            ),
        ));
    }
    let data_volumes = parse_data_volumes(ctx, s)?;
    let mut sg_ids = Vec::new();
    for (i, g) in s
        .get("security_groups")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let id = ctx.str_field(g, &format!("server.security_groups[{i}]."), "id")?;
        if !ctx.world.security_groups.contains_key(id) {
            return Err(ctx.err(400, format!("security group `{id}` does not exist")));
        }
        sg_ids.push(id.to_string());
    }
    if sg_ids.is_empty() {
        let default = ctx
            .world
            .security_groups
            .values()
            .find(|g| g.name == crate::world::SG_DEFAULT && g.vpc_id == vpc_id);
        let default = default.or_else(|| {
            ctx.world
                .security_groups
                .values()
                .find(|g| g.name == crate::world::SG_DEFAULT)
        });
        sg_ids.extend(default.map(|g| g.id.clone()));
    }
    let key_name = ctx.opt_str(s, p, "key_name")?.map(str::to_string);
    let public_key = match &key_name {
        Some(k) => match ctx.world.keypairs.get(k) {
            Some(kp) => Some(kp.public_key.clone()),
            None => {
                return Err(ctx.err_code(400, "Ecs.0314", format!("keypair `{k}` does not exist")));
            }
        },
        None => None,
    };
    let user_data = match ctx.opt_str(s, p, "user_data")? {
        Some(u) => Some(
            decode_b64(u)
                .ok_or_else(|| ctx.err(400, "`server.user_data` must be base64-encoded"))?,
        ),
        None => None,
    };
    if user_data.as_ref().is_some_and(|u| u.len() > 32 * 1024) {
        return Err(ctx.err(
            400,
            "`server.user_data` is larger than 32 KB before encoding",
        ));
    }
    let admin_pass = ctx.opt_str(s, p, "adminPass")?.map(str::to_string);
    if let Some(pass) = &admin_pass {
        if let Err(why) = check_admin_pass(pass) {
            return Err(ctx.err(400, format!("`server.adminPass` is invalid: {why}")));
        }
    }
    let mut metadata = BTreeMap::new();
    if let Some(m) = s.get("metadata").and_then(Value::as_object) {
        for (k, v) in m {
            metadata.insert(
                k.clone(),
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string()),
            );
        }
    }
    let mut tags = Vec::new();
    for t in s
        .get("server_tags")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let k = t.get("key").and_then(Value::as_str).unwrap_or("");
        let v = t.get("value").and_then(Value::as_str).unwrap_or("");
        tags.push(format!("{k}={v}"));
    }
    // The EIP: an existing one to bind, or one made with the server.
    let publicip = s.get("publicip").cloned().unwrap_or(Value::Null);
    let mut existing_eip = None;
    let mut new_eip = None;
    if !publicip.is_null() {
        if let Some(id) = publicip.get("id").and_then(Value::as_str) {
            match ctx.world.eips.get(id) {
                None => {
                    return Err(ctx.err(
                        400,
                        format!("EIP `{id}` (`server.publicip.id`) does not exist"),
                    ));
                }
                Some(e) if e.port_id.is_some() => {
                    return Err(ctx.err(400, format!("EIP `{id}` is already bound")));
                }
                Some(_) if count > 1 => {
                    return Err(ctx.err(400, "one existing EIP cannot be bound to several servers"));
                }
                Some(_) => existing_eip = Some(id.to_string()),
            }
        } else if let Some(eip) = publicip.get("eip") {
            let kind = eip.get("iptype").and_then(Value::as_str).unwrap_or("");
            if !["5_bgp", "5_sbgp"].contains(&kind) {
                return Err(ctx.err(
                    400,
                    format!(
                        "`server.publicip.eip.iptype` `{kind}` is invalid: use 5_bgp or 5_sbgp"
                    ),
                ));
            }
            let bw = eip.get("bandwidth").cloned().unwrap_or(Value::Null);
            let size = bw.get("size").and_then(Value::as_u64).unwrap_or(0);
            if !(1..=2000).contains(&size) {
                return Err(ctx.err(
                    400,
                    "`server.publicip.eip.bandwidth.size` must be 1-2000 Mbit/s",
                ));
            }
            let dot = publicip
                .get("delete_on_termination")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            new_eip = Some((
                kind.to_string(),
                size as u32,
                bw.get("sharetype")
                    .and_then(Value::as_str)
                    .unwrap_or("PER")
                    .to_string(),
                bw.get("chargemode")
                    .and_then(Value::as_str)
                    .unwrap_or("bandwidth")
                    .to_string(),
                dot,
            ));
        } else {
            return Err(ctx.err(400, "`server.publicip` needs `id` or `eip`"));
        }
    }
    let live = ctx.world.servers.len();
    if live + count > ctx.config.max_servers {
        return Err(ctx.err_code(
            400,
            "Ecs.0001",
            format!("Insufficient quota for instances: requested {count}, used {live} of {}. Delete unused servers or raise the quota", ctx.config.max_servers),
        ));
    }
    if ctx.body.get("dry_run").and_then(Value::as_bool) == Some(true) {
        return Reply::with(202, json!({}));
    }
    let auto_rename = s
        .get("isAutoRename")
        .and_then(Value::as_bool)
        .unwrap_or(true);

    let now = ctx.now;
    let run_at = now + ctx.latency.job_queue.as_millis() as u64;
    let job_fail = match &ctx.fault {
        Some(FaultKind::JobFail { fail_reason }) => Some(fail_reason.clone()),
        _ => None,
    };
    let server_error = matches!(ctx.fault, Some(FaultKind::ServerError));
    let mut ids = Vec::new();
    let mut subs = Vec::new();
    let mut done_at = run_at;
    for i in 0..count {
        let id = new_id();
        let sname = if count > 1 && auto_rename {
            format!("{name}-{:04}", i + 1)
        } else {
            name.clone()
        };
        let private_ip = match first_nic.get("ip_address").and_then(Value::as_str) {
            Some(ip) if count == 1 => ip.to_string(),
            _ => ctx
                .world
                .allocate_private_ip(&subnet_id)
                .ok_or_else(|| ctx.err(400, format!("subnet `{subnet_id}` has no free address")))?,
        };
        let build = draw(ctx.latency.server_build);
        let at = run_at + build;
        done_at = done_at.max(at);
        let spec = ServerSpec {
            id: id.clone(),
            name: sname.clone(),
            image_id: image_ref.clone(),
            flavor_id: flavor_ref.clone(),
            private_ip: private_ip.clone(),
            public_key: public_key.clone(),
            user_data: user_data.clone(),
            admin_pass: admin_pass.clone(),
            data_volume_sizes_gb: data_volumes.iter().map(|(_, size)| *size).collect(),
            ssh_ingress: ctx.world.ssh_ingress(&sg_ids),
        };
        let mut fault_msg = None;
        if server_error {
            fault_msg = Some("injected fault: the server failed to boot".to_string());
        } else if job_fail.is_none() {
            if let Err(e) = ctx.backend.create(&spec) {
                fault_msg = Some(e.0);
            }
        }
        let (end_status, remove) = match (&fault_msg, &job_fail) {
            (Some(_), _) => ("ERROR", false),
            // A failed create job rolls the server back.
            (None, Some(_)) => ("BUILD", true),
            _ => ("ACTIVE", false),
        };
        let sub_fail = match (&fault_msg, &job_fail) {
            (Some(m), _) => Some(("Ecs.0010".to_string(), m.clone())),
            (None, Some(r)) => Some(("Ecs.0010".to_string(), r.clone())),
            _ => None,
        };
        let server = Server {
            id: id.clone(),
            name: sname,
            status: "BUILD".into(),
            task_state: Some("spawning".into()),
            transition: Some(Transition {
                at,
                status: end_status.into(),
                remove,
            }),
            flavor_id: flavor_ref.clone(),
            image_id: image_ref.clone(),
            availability_zone: az.clone(),
            vpc_id: vpc_id.clone(),
            subnet_id: subnet_id.clone(),
            private_ip,
            mac: random_mac(),
            port_id: new_id(),
            volume_id: new_id(),
            root_volume_type: volumetype.clone(),
            root_volume_size: size,
            data_volumes: data_volumes
                .iter()
                .map(|(volume_type, size)| DataVolume {
                    id: new_id(),
                    volume_type: volume_type.clone(),
                    size: *size,
                })
                .collect(),
            eip_id: None,
            eip_delete_on_termination: false,
            key_name: key_name.clone(),
            security_groups: sg_ids.clone(),
            metadata: metadata.clone(),
            tags: tags.clone(),
            description: s
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            fault: fault_msg,
            created: now,
            updated: now,
            launched: None,
            delete_publicip: false,
        };
        ctx.world.servers.insert(id.clone(), server);
        let eip_id = if let Some(eid) = existing_eip.take() {
            Some((eid, false))
        } else if let Some((kind, bw, share, charge, dot)) = &new_eip {
            let address = ctx
                .world
                .allocate_eip(ctx.config.eip_pool)
                .ok_or_else(|| ctx.err(400, "the EIP pool is exhausted"))?;
            let e = Eip {
                id: new_id(),
                address,
                kind: kind.clone(),
                status: "DOWN".into(),
                port_id: None,
                private_ip: None,
                bandwidth_id: new_id(),
                bandwidth_name: format!("bandwidth-{}", &id[..8]),
                bandwidth_size: *bw,
                bandwidth_share_type: share.clone(),
                charge_mode: charge.clone(),
                alias: None,
                created: now,
            };
            let eid = e.id.clone();
            ctx.world.eips.insert(eid.clone(), e);
            Some((eid, *dot))
        } else {
            None
        };
        if let Some((eid, dot)) = eip_id {
            bind_eip(ctx, &eid, &id);
            if let Some(sv) = ctx.world.servers.get_mut(&id) {
                sv.eip_delete_on_termination = dot;
            }
        }
        subs.push(SubJob {
            id: new_id(),
            job_type: "createSingleServer".into(),
            server_id: id.clone(),
            fail: sub_fail,
        });
        ids.push(id);
    }
    let fail = subs.iter().find_map(|s| s.fail.clone());
    let job = Job {
        id: new_id(),
        service: "ecs".into(),
        job_type: "createServer".into(),
        begin: now,
        run_at,
        done_at,
        fail,
        entities: JobEntities::Servers(subs),
    };
    let job_id = job.id.clone();
    ctx.world.jobs.insert(job_id.clone(), job);
    Reply::ok(json!({"job_id": job_id, "serverIds": ids}))
}

/// Binds an EIP to a server's port.
pub(crate) fn bind_eip(ctx: &mut Ctx, eip_id: &str, server_id: &str) {
    let Some(server) = ctx.world.servers.get_mut(server_id) else {
        return;
    };
    server.eip_id = Some(eip_id.to_string());
    let (port, ip) = (server.port_id.clone(), server.private_ip.clone());
    if let Some(e) = ctx.world.eips.get_mut(eip_id) {
        e.status = "ACTIVE".into();
        e.port_id = Some(port);
        e.private_ip = Some(ip);
        // The EIP must reach the server's sshd, as on the real cloud.
        if let Err(err) = ctx.backend.bind_address(server_id, &e.address) {
            tracing::warn!(server = %server_id, error = %err, "the eip does not reach the server");
        }
    }
}

fn decode_b64(s: &str) -> Option<Vec<u8>> {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let clean: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if clean.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        let mut pad = 0;
        for &c in chunk {
            n <<= 6;
            if c == b'=' {
                pad += 1;
            } else if pad > 0 {
                return None;
            } else {
                n |= ALPHA.iter().position(|&a| a == c)? as u32;
            }
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad.min(2)]);
    }
    Some(out)
}

fn vm_state(status: &str) -> &'static str {
    match status {
        "ACTIVE" => "active",
        "BUILD" => "building",
        "SHUTOFF" => "stopped",
        "ERROR" => "error",
        _ => "active",
    }
}

fn power_state(status: &str) -> i64 {
    match status {
        "ACTIVE" => 1,
        "SHUTOFF" => 4,
        _ => 0,
    }
}

pub(crate) fn render_server(ctx: &Ctx, s: &Server) -> Value {
    let w = &*ctx.world;
    let fl = flavor(&s.flavor_id);
    let mut addrs = vec![json!({
        "version": "4",
        "addr": s.private_ip,
        "OS-EXT-IPS:type": "fixed",
        "OS-EXT-IPS-MAC:mac_addr": s.mac,
        "OS-EXT-IPS:port_id": s.port_id,
        "primary": true,
    })];
    if let Some(e) = s.eip_id.as_ref().and_then(|id| w.eips.get(id)) {
        addrs.push(json!({
            "version": "4",
            "addr": e.address,
            "OS-EXT-IPS:type": "floating",
            "OS-EXT-IPS-MAC:mac_addr": s.mac,
            "OS-EXT-IPS:port_id": s.port_id,
            "primary": false,
        }));
    }
    let sgs: Vec<Value> = s
        .security_groups
        .iter()
        .map(|id| json!({"id": id, "name": w.security_groups.get(id).map(|g| g.name.as_str()).unwrap_or("")}))
        .collect();
    let fault = s
        .fault
        .as_ref()
        .map(|m| json!({"code": 500, "created": iso(s.updated), "message": m, "details": m}));
    let short = &s.id[..8];
    json!({
        "id": s.id,
        "name": s.name,
        "status": s.status,
        "created": iso(s.created),
        "updated": iso(s.updated),
        "hostId": format!("localcloud-{}", ctx.backend.name()),
        "OS-EXT-SRV-ATTR:host": format!("localcloud-{}", ctx.backend.name()),
        "OS-EXT-SRV-ATTR:hypervisor_hostname": format!("localcloud-{}", ctx.backend.name()),
        "OS-EXT-SRV-ATTR:instance_name": format!("instance-{short}"),
        "OS-EXT-SRV-ATTR:hostname": s.name,
        "OS-EXT-SRV-ATTR:reservation_id": format!("r-{short}"),
        "OS-EXT-SRV-ATTR:launch_index": 0,
        "OS-EXT-SRV-ATTR:kernel_id": "",
        "OS-EXT-SRV-ATTR:ramdisk_id": "",
        "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
        "addresses": {s.vpc_id.clone(): addrs},
        "key_name": s.key_name,
        "image": {"id": s.image_id},
        "flavor": {
            "id": s.flavor_id,
            "name": s.flavor_id,
            "disk": "0",
            "vcpus": fl.map(|f| f.vcpus.to_string()).unwrap_or_default(),
            "ram": fl.map(|f| f.ram.to_string()).unwrap_or_default(),
        },
        "OS-EXT-STS:task_state": s.task_state,
        "OS-EXT-STS:vm_state": vm_state(&s.status),
        "OS-EXT-STS:power_state": power_state(&s.status),
        "OS-EXT-AZ:availability_zone": s.availability_zone,
        "security_groups": sgs,
        "user_id": w.domain_id,
        "tenant_id": w.project_id,
        "OS-DCF:diskConfig": "MANUAL",
        "accessIPv4": "",
        "accessIPv6": "",
        "fault": fault,
        "progress": if s.status == "BUILD" { 0 } else { 100 },
        "config_drive": "",
        "metadata": s.metadata,
        "OS-SRV-USG:launched_at": s.launched.map(iso).unwrap_or_default(),
        "OS-SRV-USG:terminated_at": "",
        "os-extended-volumes:volumes_attached": volumes_attached(s),
        "description": s.description,
        "host_status": "UP",
        "locked": false,
        "tags": s.tags,
        "enterprise_project_id": "0",
        "sys_tags": [{"key": "_sys_enterprise_project_id", "value": "0"}],
    })
}

pub fn show_server(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let s = server_of(ctx, ctx.param(0))?;
    Reply::ok(json!({"server": render_server(ctx, s)}))
}

pub fn list_servers(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let mut list: Vec<&Server> = ctx.world.servers.values().collect();
    // Newest first, as the real API lists.
    list.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
    if let Some(name) = ctx.q("name") {
        list.retain(|s| s.name.contains(name));
    }
    if let Some(status) = ctx.q("status") {
        list.retain(|s| s.status == status);
    }
    if let Some(f) = ctx.q("flavor") {
        list.retain(|s| s.flavor_id == f);
    }
    if let Some(ip) = ctx.q("ip") {
        list.retain(|s| s.private_ip.contains(ip));
    }
    if let Some(ip) = ctx.q("ip_eq") {
        list.retain(|s| s.private_ip == ip);
    }
    if let Some(ids) = ctx.q("server_id") {
        let ids: Vec<&str> = ids.split(',').collect();
        list.retain(|s| ids.contains(&s.id.as_str()));
    }
    if let Some(tags) = ctx.q("tags") {
        let want: Vec<&str> = tags.split(',').collect();
        list.retain(|s| want.iter().all(|t| s.tags.iter().any(|have| have == t)));
    }
    let count = list.len();
    ctx.after_marker(&mut list, |s| s.id.as_str(), "a server")?;
    let limit = ctx.q_num("limit")?;
    if limit.is_some_and(|l| l > 1000) {
        return Err(ctx.err(400, "`limit` must be at most 1000"));
    }
    let limit = limit.unwrap_or(25).max(1);
    // `offset` is a page number starting at 1.
    let page = ctx.q_num("offset")?.unwrap_or(1).max(1);
    let start = (page - 1).saturating_mul(limit).min(list.len());
    let page: Vec<Value> = list[start..]
        .iter()
        .take(limit)
        .map(|s| render_server(ctx, s))
        .collect();
    Reply::ok(json!({"count": count, "servers": page}))
}

static BATCH_ACTION: Shape = Shape::Obj(&[
    (
        "os-stop",
        Shape::Obj(&[
            ("type", Shape::Any),
            ("servers", Shape::List(&Shape::Obj(&[("id", Shape::Any)]))),
        ]),
    ),
    (
        "os-start",
        Shape::Obj(&[("servers", Shape::List(&Shape::Obj(&[("id", Shape::Any)])))]),
    ),
    ("reboot", Shape::Any),
]);

fn server_ids(ctx: &Ctx, list: &Value, path: &str) -> Result<Vec<String>, ApiError> {
    let Some(items) = list.as_array().filter(|a| !a.is_empty()) else {
        return Err(ctx.err(400, format!("`{path}` must list at least one server")));
    };
    let mut ids = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let id = ctx.str_field(it, &format!("{path}[{i}]."), "id")?;
        if !ctx.world.servers.contains_key(id) {
            return Err(ctx.err_code(
                404,
                "Ecs.0114",
                format!("Instance[{id}] could not be found."),
            ));
        }
        ids.push(id.to_string());
    }
    Ok(ids)
}

fn finish_job(
    ctx: &mut Ctx,
    job_type: &str,
    sub_type: &str,
    ids: &[String],
    done_at: u64,
    run_at: u64,
) -> Result<Reply, ApiError> {
    let fail = match &ctx.fault {
        Some(FaultKind::JobFail { fail_reason }) => {
            Some(("Ecs.0010".to_string(), fail_reason.clone()))
        }
        _ => None,
    };
    let subs = ids
        .iter()
        .map(|id| SubJob {
            id: new_id(),
            job_type: sub_type.into(),
            server_id: id.clone(),
            fail: fail.clone(),
        })
        .collect();
    let job = Job {
        id: new_id(),
        service: "ecs".into(),
        job_type: job_type.into(),
        begin: ctx.now,
        run_at,
        done_at,
        fail,
        entities: JobEntities::Servers(subs),
    };
    let id = job.id.clone();
    ctx.world.jobs.insert(id.clone(), job);
    Reply::ok(json!({"job_id": id}))
}

pub fn batch_action(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&BATCH_ACTION)?;
    let body = ctx.body;
    let (key, from, to, task, range, job_type, sub_type) = if let Some(stop) = body.get("os-stop") {
        if let Some(t) = stop.get("type").and_then(Value::as_str) {
            if t != "SOFT" && t != "HARD" {
                return Err(ctx.err(
                    400,
                    format!("`os-stop.type` `{t}` is invalid: use SOFT or HARD"),
                ));
            }
        }
        (
            "os-stop",
            "ACTIVE",
            "SHUTOFF",
            "powering-off",
            ctx.latency.server_stop,
            "batchStopServers",
            "stopServer",
        )
    } else if body.get("os-start").is_some() {
        (
            "os-start",
            "SHUTOFF",
            "ACTIVE",
            "powering-on",
            ctx.latency.server_start,
            "batchStartServers",
            "startServer",
        )
    } else if body.get("reboot").is_some() {
        return Err(ctx.err(400, "reboot is not offered by the local cloud"));
    } else {
        return Err(ctx.err(400, "the body must hold `os-stop` or `os-start`"));
    };
    let ids = server_ids(ctx, &body[key]["servers"], &format!("{key}.servers"))?;
    for id in &ids {
        let s = &ctx.world.servers[id];
        if s.transition.is_some() || (s.status != from && s.status != to) {
            return Err(ctx.err_code(
                409,
                "Ecs.0011",
                format!(
                    "server `{id}` is `{}`{}: it cannot be {}",
                    s.status,
                    s.task_state
                        .as_ref()
                        .map(|t| format!(" ({t})"))
                        .unwrap_or_default(),
                    if key == "os-stop" {
                        "stopped"
                    } else {
                        "started"
                    }
                ),
            ));
        }
    }
    let run_at = ctx.now + ctx.latency.job_queue.as_millis() as u64;
    let mut done_at = run_at;
    let failing = matches!(ctx.fault, Some(FaultKind::JobFail { .. }));
    for id in &ids {
        let result = if key == "os-stop" {
            ctx.backend.stop(id)
        } else {
            ctx.backend.start(id)
        };
        let at = run_at + draw(range);
        done_at = done_at.max(at);
        let server_error = matches!(ctx.fault, Some(FaultKind::ServerError));
        let s = ctx.world.servers.get_mut(id).ok_or_else(|| ApiError {
            status: 500,
            body: json!({}),
        })?;
        if s.status == to || failing {
            continue;
        }
        let target = match (&result, server_error) {
            (Err(e), _) => {
                s.fault = Some(e.0.clone());
                "ERROR"
            }
            (Ok(()), true) => {
                s.fault = Some("injected fault: the server failed".into());
                "ERROR"
            }
            _ => to,
        };
        s.task_state = Some(task.into());
        s.transition = Some(Transition {
            at,
            status: target.into(),
            remove: false,
        });
    }
    finish_job(ctx, job_type, sub_type, &ids, done_at, run_at)
}

static DELETE: Shape = Shape::Obj(&[
    ("servers", Shape::List(&Shape::Obj(&[("id", Shape::Any)]))),
    ("delete_publicip", Shape::Any),
    ("delete_volume", Shape::Any),
]);

pub fn delete_servers(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&DELETE)?;
    let ids = server_ids(ctx, &ctx.body["servers"], "servers")?;
    let delete_publicip = ctx
        .body
        .get("delete_publicip")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let run_at = ctx.now + ctx.latency.job_queue.as_millis() as u64;
    let mut done_at = run_at;
    let failing = matches!(ctx.fault, Some(FaultKind::JobFail { .. }));
    for id in &ids {
        let at = run_at + draw(ctx.latency.server_delete);
        done_at = done_at.max(at);
        if failing {
            continue;
        }
        if let Some(s) = ctx.world.servers.get_mut(id) {
            s.task_state = Some("deleting".into());
            s.delete_publicip = delete_publicip;
            s.transition = Some(Transition {
                at,
                status: "DELETED".into(),
                remove: true,
            });
        }
    }
    finish_job(ctx, "deleteServers", "deleteServer", &ids, done_at, run_at)
}

pub fn interfaces(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let s = server_of(ctx, ctx.param(0))?;
    let neutron_subnet = ctx.world.neutron_subnet_of(s);
    Reply::ok(json!({"interfaceAttachments": [{
        "port_state": "ACTIVE",
        "fixed_ips": [{"subnet_id": neutron_subnet, "ip_address": s.private_ip}],
        "net_id": s.subnet_id,
        "port_id": s.port_id,
        "mac_addr": s.mac,
        "delete_on_termination": true,
    }]}))
}

/// The project's quotas and use. Only the number of servers is enforced (`--max-servers`); a
/// limit that is not enforced is -1, as the API shows an unlimited one.
pub fn limits(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let w = &*ctx.world;
    let (cores, ram) = w
        .servers
        .values()
        .filter_map(|s| flavor(&s.flavor_id))
        .fold((0u64, 0u64), |(c, r), f| {
            (c + u64::from(f.vcpus), r + u64::from(f.ram))
        });
    Reply::ok(json!({"absolute": {
        "maxImageMeta": 50, "maxPersonality": 5, "maxPersonalitySize": 10240,
        "maxSecurityGroupRules": -1, "maxSecurityGroups": -1,
        "maxServerGroupMembers": 16, "maxServerGroups": 10, "maxServerMeta": 10,
        "maxTotalCores": -1, "maxTotalFloatingIps": 240,
        "maxTotalInstances": ctx.config.max_servers, "maxTotalKeypairs": -1,
        "maxTotalRAMSize": -1,
        "totalCoresUsed": cores, "totalFloatingIpsUsed": w.eips.len(),
        "totalInstancesUsed": w.servers.len(), "totalRAMUsed": ram,
        "totalSecurityGroupsUsed": w.security_groups.len(), "totalServerGroupsUsed": 0,
        "maxTotalSpotInstances": 0, "maxTotalSpotCores": 0, "maxTotalSpotRAMSize": 0,
        "totalSpotInstancesUsed": 0, "totalSpotCoresUsed": 0, "totalSpotRAMUsed": 0,
        "limit_by_flavor": [],
    }}))
}

/// A Linux server logged into with a keypair has no password to give: the API answers an
/// empty one, which is what a Windows-only step reads as "not set".
pub fn server_password(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    server_of(ctx, ctx.param(0))?;
    Reply::ok(json!({"password": ""}))
}

/// How the backend changes a finished sub-job: its server still held (booting, stopping) keeps
/// it RUNNING; a server the backend failed within the job makes it FAIL with the reason.
fn backend_hold(
    world: &crate::world::World,
    j: &Job,
    sub: &SubJob,
    now: u64,
) -> Option<(&'static str, Option<(String, String)>)> {
    if now < j.done_at || sub.fail.is_some() || j.fail.is_some() {
        return None;
    }
    let s = world.servers.get(&sub.server_id)?;
    if s.transition
        .as_ref()
        .is_some_and(|t| t.at <= now && !t.remove)
    {
        return Some(("RUNNING", None));
    }
    if s.status == "ERROR" && s.updated <= j.done_at {
        let reason = s
            .fault
            .clone()
            .unwrap_or_else(|| "the server failed".into());
        return Some(("FAIL", Some(("Ecs.0010".to_string(), reason))));
    }
    None
}

fn render_sub(
    j: &Job,
    sub: &SubJob,
    now: u64,
    held: Option<(&'static str, Option<(String, String)>)>,
) -> Value {
    let mut status = if now < j.run_at {
        "INIT"
    } else if now < j.done_at {
        "RUNNING"
    } else if sub.fail.is_some() {
        "FAIL"
    } else {
        "SUCCESS"
    };
    let mut sub_fail = sub.fail.clone();
    if let Some((st, fail)) = held {
        status = st;
        if fail.is_some() {
            sub_fail = fail;
        }
    }
    let sub = &SubJob {
        fail: sub_fail,
        ..sub.clone()
    };
    let (code, reason) = match (&sub.fail, status) {
        (Some((c, r)), "FAIL") => (Some(c.clone()), Some(r.clone())),
        _ => (None, None),
    };
    json!({
        "status": status,
        "job_id": sub.id,
        "job_type": sub.job_type,
        "begin_time": iso_millis(j.begin),
        "end_time": if status == "SUCCESS" || status == "FAIL" { iso_millis(j.done_at) } else { String::new() },
        "error_code": code,
        "fail_reason": reason,
        "entities": {"server_id": sub.server_id, "errorcode_message": sub.fail.as_ref().filter(|_| status == "FAIL").map(|f| f.1.clone())},
    })
}

pub fn show_job(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param(0).to_string();
    let now = ctx.now;
    let Some(j) = ctx.world.jobs.get(&id).filter(|j| j.service == "ecs") else {
        return Err(ctx.err_code(404, "Ecs.0120", format!("job `{id}` does not exist")));
    };
    let mut status = j.status(now);
    let mut job_fail = j.fail.clone();
    let subs: Vec<Value> = match &j.entities {
        JobEntities::Servers(subs) => subs
            .iter()
            .map(|sub| {
                let held = backend_hold(ctx.world, j, sub, now);
                // The job waits for every server the backend still holds and fails with the
                // first one the backend failed.
                match (&held, status) {
                    (Some(("RUNNING", _)), "SUCCESS" | "FAIL") if j.fail.is_none() => {
                        status = "RUNNING"
                    }
                    (Some(("FAIL", f)), "SUCCESS") => {
                        status = "FAIL";
                        job_fail = f.clone();
                    }
                    _ => {}
                }
                render_sub(j, sub, now, held)
            })
            .collect(),
        _ => vec![],
    };
    let first_server = match &j.entities {
        JobEntities::Servers(subs) if subs.len() == 1 => Some(subs[0].server_id.clone()),
        _ => None,
    };
    let (code, reason) = match (&job_fail, status) {
        (Some((c, r)), "FAIL") => (Some(c.clone()), Some(r.clone())),
        _ => (None, None),
    };
    let mut entities = json!({"sub_jobs_total": subs.len(), "sub_jobs": subs});
    if let Some(sid) = first_server {
        entities["server_id"] = json!(sid);
    }
    Reply::ok(json!({
        "status": status,
        "job_id": j.id,
        "job_type": j.job_type,
        "begin_time": iso_millis(j.begin),
        "end_time": if status == "SUCCESS" || status == "FAIL" { iso_millis(j.done_at) } else { String::new() },
        "error_code": code,
        "fail_reason": reason,
        "entities": entities,
    }))
}

static CREATE_KEYPAIR: Shape = Shape::Obj(&[(
    "keypair",
    Shape::Obj(&[
        ("name", Shape::Any),
        ("public_key", Shape::Any),
        ("type", Shape::Any),
        ("user_id", Shape::Any),
    ]),
)]);

pub fn create_keypair(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&CREATE_KEYPAIR)?;
    let kp = &ctx.body["keypair"];
    let name = ctx.str_field(kp, "keypair.", "name")?.to_string();
    if name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    {
        return Err(ctx.err(
            400,
            format!("keypair name `{name}` is invalid: use 1-64 letters, digits, `-` or `_`"),
        ));
    }
    if let Some(t) = ctx.opt_str(kp, "keypair.", "type")? {
        if t != "ssh" {
            return Err(ctx.err(
                400,
                format!("keypair type `{t}` is not supported: use `ssh`"),
            ));
        }
    }
    if ctx.world.keypairs.contains_key(&name) {
        return Err(ctx.err(409, format!("Key pair '{name}' already exists.")));
    }
    let user_id = ctx.world.domain_id.clone();
    let (public_key, private_key, fingerprint) = match ctx.opt_str(kp, "keypair.", "public_key")? {
        Some(pk) => {
            let fp = crate::keys::fingerprint_of(pk)
                .map_err(|e| ctx.err(400, format!("`keypair.public_key`: {e}")))?;
            (pk.trim().to_string(), None, fp)
        }
        None => {
            let g = crate::keys::generate(&name).map_err(|e| ctx.err(500, e))?;
            (g.public_key, Some(g.private_key), g.fingerprint)
        }
    };
    ctx.world.keypairs.insert(
        name.clone(),
        Keypair {
            name: name.clone(),
            public_key: public_key.clone(),
            fingerprint: fingerprint.clone(),
            created: ctx.now,
        },
    );
    let mut out = json!({"name": name, "public_key": public_key, "fingerprint": fingerprint, "user_id": user_id, "type": "ssh"});
    if let Some(pk) = private_key {
        out["private_key"] = json!(pk);
    }
    Reply::ok(json!({"keypair": out}))
}

pub fn list_keypairs(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let list: Vec<Value> = ctx
        .world
        .keypairs
        .values()
        .map(|k| json!({"keypair": {"name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint, "type": "ssh"}}))
        .collect();
    Reply::ok(json!({"keypairs": list}))
}

pub fn show_keypair(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let name = ctx.param(0).to_string();
    let Some(k) = ctx.world.keypairs.get(&name) else {
        return Err(ctx.err(404, format!("Keypair {name} not found.")));
    };
    Reply::ok(json!({"keypair": {
        "name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint, "type": "ssh",
        "created_at": iso(k.created), "deleted": false, "deleted_at": null, "id": 0, "updated_at": null,
        "user_id": ctx.world.domain_id,
    }}))
}

pub fn delete_keypair(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let name = ctx.param(0).to_string();
    if ctx.world.keypairs.remove(&name).is_none() {
        return Err(ctx.err(404, format!("Keypair {name} not found.")));
    }
    Reply::empty(204)
}

/// The most data volumes a server may have (`/dev/vdb` … `/dev/vdz`).
pub const MAX_DATA_VOLUMES: usize = 23;
const VOLUME_TYPES: [&str; 7] = ["SSD", "SAS", "SATA", "GPSSD", "ESSD", "GPSSD2", "ESSD2"];

/// `server.data_volumes`: (volume type, size in GB) of each, in device order. EVS is not
/// emulated, so each becomes a disk of the server only (a sandbox's `/dev/vdb`, …).
fn parse_data_volumes(ctx: &Ctx, server: &Value) -> Result<Vec<(String, u32)>, ApiError> {
    let list = match server.get("data_volumes") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list.clone(),
        Some(other) => {
            return Err(ctx.err(
                400,
                format!("`server.data_volumes` must be a list, got {other}"),
            ));
        }
    };
    if list.len() > MAX_DATA_VOLUMES {
        return Err(ctx.err(
            400,
            format!(
                "`server.data_volumes` has {} volumes; at most {MAX_DATA_VOLUMES} can be attached",
                list.len()
            ),
        ));
    }
    let mut out = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let prefix = format!("server.data_volumes[{i}].");
        let volumetype = ctx.str_field(v, &prefix, "volumetype")?.to_string();
        if !VOLUME_TYPES.contains(&volumetype.as_str()) {
            return Err(ctx.err(400, format!("`{prefix}volumetype` `{volumetype}` is invalid: use SSD, GPSSD, SAS, SATA or ESSD")));
        }
        let size = match v.get("size") {
            Some(n) => match n.as_u64() {
                Some(n) if (10..=32768).contains(&n) => n as u32,
                _ => {
                    return Err(ctx.err(400, format!("`{prefix}size` must be 10-32768 GB, got {n}")));
                }
            },
            None => return Err(ctx.err(400, format!("`{prefix}size` is required (10-32768 GB)"))),
        };
        if v.get("data_image_id").is_some_and(|d| !d.is_null()) {
            return Err(ctx.err(400, format!("`{prefix}data_image_id`: data-disk images are not offered by the local cloud; attach an empty volume")));
        }
        if v.get("multiattach").and_then(Value::as_bool) == Some(true)
            || v.get("shareable").and_then(Value::as_bool) == Some(true)
        {
            return Err(ctx.err(
                400,
                format!("`{prefix}multiattach`: shared volumes are not offered by the local cloud"),
            ));
        }
        out.push((volumetype, size));
    }
    Ok(out)
}

/// The device of the `index`-th data volume: `/dev/vdb` for 0.
fn data_device(index: usize) -> String {
    format!("/dev/vd{}", (b'b' + index as u8) as char)
}

/// `os-extended-volumes:volumes_attached`: the system disk, then the data volumes in order.
fn volumes_attached(s: &Server) -> Vec<Value> {
    let mut list = vec![
        json!({"id": s.volume_id, "delete_on_termination": "true", "bootIndex": "0", "device": "/dev/vda"}),
    ];
    for (i, v) in s.data_volumes.iter().enumerate() {
        list.push(json!({"id": v.id, "delete_on_termination": "true", "bootIndex": "-1", "device": data_device(i)}));
    }
    list
}

/// `ListServerBlockDevices` (`GET /v1/{project_id}/cloudservers/{server_id}/block_device`):
/// the system disk and the data volumes.
pub fn list_block_devices(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let s = server_of(ctx, ctx.param(0))?;
    let mut attachments = vec![json!({
        "serverId": s.id, "id": s.volume_id, "volumeId": s.volume_id, "device": "/dev/vda",
        "bootIndex": 0, "size": s.root_volume_size, "pciAddress": "0000:02:01.0", "bus": "virtio",
    })];
    for (i, v) in s.data_volumes.iter().enumerate() {
        attachments.push(json!({
            "serverId": s.id, "id": v.id, "volumeId": v.id, "device": data_device(i),
            "bootIndex": -1, "size": v.size, "pciAddress": format!("0000:02:{:02x}.0", i + 2), "bus": "virtio",
        }));
    }
    let used = attachments.len() as u64;
    Reply::ok(json!({
        "attachableQuantity": {"free_scsi": 0, "free_blk": (MAX_DATA_VOLUMES as u64 + 1).saturating_sub(used), "free_disk": (MAX_DATA_VOLUMES as u64 + 1).saturating_sub(used)},
        "volumeAttachments": attachments,
    }))
}

/// A server by its path id, or the ECS 404.
fn server_of<'w>(ctx: &'w Ctx, id: &str) -> Result<&'w Server, ApiError> {
    ctx.world.servers.get(id).ok_or_else(|| {
        ctx.err_code(
            404,
            "Ecs.0114",
            format!("Instance[{id}] could not be found."),
        )
    })
}

/// A server tag as stored (`key=value`) split back into its key and value.
fn split_tag(tag: &str) -> (&str, &str) {
    tag.split_once('=').unwrap_or((tag, ""))
}

/// The tags of one server as `{"key","value"}` pairs.
pub fn show_server_tags(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param(0).to_string();
    let s = server_of(ctx, &id)?;
    let tags: Vec<Value> = s
        .tags
        .iter()
        .map(|t| {
            let (k, v) = split_tag(t);
            json!({"key": k, "value": v})
        })
        .collect();
    Reply::ok(json!({"tags": tags}))
}

/// The project's server tags: each key once with every value it has.
pub fn list_project_server_tags(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let mut keys: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in ctx.world.servers.values() {
        for t in &s.tags {
            let (k, v) = split_tag(t);
            let values = keys.entry(k).or_default();
            if !values.contains(&v) {
                values.push(v);
            }
        }
    }
    let tags: Vec<Value> = keys
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_unstable();
            json!({"key": k, "values": v})
        })
        .collect();
    Reply::ok(json!({"tags": tags}))
}

static TAGS_ACTION: Shape = Shape::Obj(&[
    ("action", Shape::Any),
    (
        "tags",
        Shape::List(&Shape::Obj(&[("key", Shape::Any), ("value", Shape::Any)])),
    ),
]);

/// Longest tag key and value the tag service takes.
const TAG_KEY_MAX: usize = 128;
const TAG_VALUE_MAX: usize = 255;

/// `BatchCreateServerTags` (`action: create`, a key already there takes the new value) and
/// `BatchDeleteServerTags` (`action: delete`, a tag goes when its key matches and its value
/// matches or is not given; a tag that is not there is no error).
pub fn server_tags_action(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&TAGS_ACTION)?;
    let id = ctx.param(0).to_string();
    server_of(ctx, &id)?;
    let action = ctx.str_field(ctx.body, "", "action")?.to_string();
    if action != "create" && action != "delete" {
        return Err(ctx.err(
            400,
            format!("`action` must be create or delete, got `{action}`"),
        ));
    }
    let Some(items) = ctx.body.get("tags").and_then(Value::as_array) else {
        return Err(ctx.err(400, "`tags` is required"));
    };
    let mut pairs = Vec::new();
    for (i, t) in items.iter().enumerate() {
        let path = format!("tags[{i}].");
        let key = ctx.str_field(t, &path, "key")?;
        let value = ctx.opt_str(t, &path, "value")?;
        if key.chars().count() > TAG_KEY_MAX || key.contains('=') {
            return Err(ctx.err(
                400,
                format!("`{path}key` `{key}` is invalid: at most {TAG_KEY_MAX} characters, no `=`"),
            ));
        }
        if action == "create" && value.is_none() {
            return Err(ctx.err(400, format!("`{path}value` is required")));
        }
        if value.is_some_and(|v| v.chars().count() > TAG_VALUE_MAX) {
            return Err(ctx.err(
                400,
                format!("`{path}value` is longer than {TAG_VALUE_MAX} characters"),
            ));
        }
        pairs.push((key.to_string(), value.map(str::to_string)));
    }
    let now = ctx.now;
    let Some(s) = ctx.world.servers.get_mut(&id) else {
        // Checked above under the same lock.
        return Err(ctx.err(404, format!("Instance[{id}] could not be found.")));
    };
    for (key, value) in pairs {
        match (action.as_str(), value) {
            ("create", Some(v)) => {
                let tag = format!("{key}={v}");
                match s.tags.iter_mut().find(|t| split_tag(t).0 == key) {
                    Some(old) => *old = tag,
                    None => s.tags.push(tag),
                }
            }
            (_, value) => s.tags.retain(|t| {
                let (k, v) = split_tag(t);
                !(k == key
                    && value
                        .as_deref()
                        .is_none_or(|want| want.is_empty() || want == v))
            }),
        }
    }
    s.updated = now;
    Reply::empty(204)
}

static UPDATE_SERVER: Shape = Shape::Obj(&[(
    "server",
    Shape::Obj(&[
        ("name", Shape::Any),
        ("description", Shape::Any),
        ("hostname", Shape::Any),
        ("user_data", Shape::Any),
        ("security_options", Shape::Any),
    ]),
)]);

/// `UpdateServer`: the name and the description. The host name of a running sandbox is the
/// name it booted with, so `hostname`, like `user_data` and `security_options`, is refused
/// rather than recorded without effect.
pub fn update_server(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&UPDATE_SERVER)?;
    let id = ctx.param(0).to_string();
    server_of(ctx, &id)?;
    let Some(body) = ctx.body.get("server").filter(|v| v.is_object()) else {
        return Err(ctx.err(400, "`server` is required"));
    };
    for field in ["hostname", "user_data", "security_options"] {
        if body.get(field).is_some_and(|v| !v.is_null()) {
            return Err(ctx.err(
                400,
                format!("`server.{field}` is not supported by the local cloud: only `name` and `description` can be changed"),
            ));
        }
    }
    let name = ctx.opt_str(body, "server.", "name")?;
    if let Some(n) = name {
        if !valid_server_name(n) {
            return Err(ctx.err(
                400,
                format!(
                    "`server.name` `{n}` is invalid: use 1-64 letters, digits, `-`, `_` or `.`"
                ),
            ));
        }
    }
    let description = ctx.opt_str(body, "server.", "description")?;
    if description.is_some_and(|d| d.chars().count() > 85 || d.contains(['<', '>'])) {
        return Err(ctx.err(
            400,
            "`server.description` is invalid: at most 85 characters, no `<` or `>`",
        ));
    }
    let (name, description) = (name.map(str::to_string), description.map(str::to_string));
    let now = ctx.now;
    if let Some(s) = ctx.world.servers.get_mut(&id) {
        if let Some(n) = name {
            s.name = n;
        }
        if let Some(d) = description {
            s.description = d;
        }
        s.updated = now;
    }
    let s = server_of(ctx, &id)?;
    let mut server = render_server(ctx, s);
    if let Some(obj) = server.as_object_mut() {
        obj.retain(|k, _| {
            [
                "id",
                "name",
                "status",
                "created",
                "updated",
                "hostId",
                "addresses",
                "key_name",
                "image",
                "flavor",
                "metadata",
                "tenant_id",
                "user_id",
                "accessIPv4",
                "accessIPv6",
                "OS-DCF:diskConfig",
                "progress",
                "locked",
                "description",
                "tags",
                "OS-EXT-SRV-ATTR:hostname",
            ]
            .contains(&k.as_str())
        });
    }
    Reply::ok(json!({"server": server}))
}

/// A server as Nova (`/v2.1`) shows it: the fields of the ECS view, with Nova's links.
fn render_nova_server(ctx: &Ctx, s: &Server) -> Value {
    let mut server = render_server(ctx, s);
    let link = format!("/v2.1/{}/servers/{}", ctx.world.project_id, s.id);
    server["links"] = json!([{"rel": "self", "href": link}, {"rel": "bookmark", "href": link}]);
    if let Some(sgs) = server["security_groups"].as_array_mut() {
        for g in sgs {
            if let Some(obj) = g.as_object_mut() {
                obj.remove("id");
            }
        }
    }
    server
}

/// `NovaShowServer`.
pub fn nova_show_server(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param(0).to_string();
    match ctx.world.servers.get(&id) {
        Some(s) => Reply::ok(json!({"server": render_nova_server(ctx, s)})),
        None => Err(ctx.err(404, format!("Instance {id} could not be found."))),
    }
}

/// The servers Nova lists, newest first, filtered by `name` (a substring), `status`, `flavor`,
/// `image` and `tags` (all of them), paged by `marker` and `limit`.
fn nova_servers<'w>(ctx: &'w Ctx) -> Result<Vec<&'w Server>, ApiError> {
    let mut list: Vec<&Server> = ctx.world.servers.values().collect();
    list.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
    if let Some(name) = ctx.q("name") {
        list.retain(|s| s.name.contains(name));
    }
    if let Some(status) = ctx.q("status") {
        list.retain(|s| s.status == status);
    }
    if let Some(f) = ctx.q("flavor") {
        list.retain(|s| s.flavor_id == f);
    }
    if let Some(i) = ctx.q("image") {
        list.retain(|s| s.image_id == i);
    }
    if let Some(tags) = ctx.q("tags") {
        let want: Vec<&str> = tags.split(',').collect();
        list.retain(|s| want.iter().all(|t| s.tags.iter().any(|have| have == t)));
    }
    ctx.after_marker(&mut list, |s| s.id.as_str(), "a server")?;
    if let Some(limit) = ctx.q_num("limit")? {
        list.truncate(limit.max(1));
    }
    Ok(list)
}

/// `NovaListServers`: ids, names and links.
pub fn nova_list_servers(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let pid = ctx.world.project_id.clone();
    let servers: Vec<Value> = nova_servers(ctx)?
        .into_iter()
        .map(|s| {
            let link = format!("/v2.1/{pid}/servers/{}", s.id);
            json!({"id": s.id, "name": s.name, "links": [{"rel": "self", "href": link}, {"rel": "bookmark", "href": link}]})
        })
        .collect();
    Reply::ok(json!({"servers": servers}))
}

/// `NovaListServersDetails`.
pub fn nova_list_servers_details(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let servers: Vec<Value> = nova_servers(ctx)?
        .into_iter()
        .map(|s| render_nova_server(ctx, s))
        .collect();
    Reply::ok(json!({"servers": servers}))
}

/// `NovaDeleteServer`: as `DeleteServers` without a job; the EIP is unbound, not released, as
/// Nova leaves floating IPs.
pub fn nova_delete_server(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param(0).to_string();
    let at = ctx.now + draw(ctx.latency.server_delete);
    let Some(s) = ctx.world.servers.get_mut(&id) else {
        return Err(ctx.err(404, format!("Instance {id} could not be found.")));
    };
    s.task_state = Some("deleting".into());
    s.delete_publicip = false;
    s.transition = Some(Transition {
        at,
        status: "DELETED".into(),
        remove: true,
    });
    Reply::empty(204)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `handler` on `world` as the HTTP front would, with a record-only backend.
    fn call(
        world: &mut crate::world::World,
        handler: fn(&mut Ctx) -> Result<Reply, ApiError>,
        params: Vec<String>,
        body: &Value,
    ) -> Result<Reply, ApiError> {
        let config = crate::Config::new(std::path::Path::new("/nonexistent"));
        let latency = config.latency();
        let mut faults = crate::faults::Faults::new(Vec::new());
        let mut ctx = Ctx {
            world,
            faults: &mut faults,
            now: crate::world::now_ms(),
            latency: &latency,
            config: &config,
            backend: &crate::backend::RecordOnly,
            fault: None,
            request_id: "req",
            params,
            query: &[],
            body,
            style: super::super::Style::Ecs,
        };
        handler(&mut ctx)
    }

    #[test]
    fn block_devices_list_the_system_disk_then_the_data_volumes() {
        let mut world = crate::world::World::fresh(crate::world::now_ms());
        let subnet = world.subnets.values().next().unwrap().clone();
        let image = crate::ops::ims::gold_id(&crate::ops::ims::GOLD[0]);
        let body = json!({"server": {
            "name": "bd", "imageRef": image, "flavorRef": "s7n.large.2", "vpcid": subnet.vpc_id,
            "nics": [{"subnet_id": subnet.id}], "root_volume": {"volumetype": "SSD", "size": 40},
            "data_volumes": [{"volumetype": "SSD", "size": 10}, {"volumetype": "SATA", "size": 100}],
        }});
        let created = call(&mut world, create_v1, Vec::new(), &body)
            .unwrap_or_else(|_| panic!("create refused"));
        let id = created.body.unwrap()["serverIds"][0]
            .as_str()
            .unwrap()
            .to_string();
        let listed = call(
            &mut world,
            list_block_devices,
            vec![id.clone()],
            &Value::Null,
        )
        .unwrap_or_else(|_| panic!("block_device refused"));
        let body = listed.body.unwrap();
        let list = body["volumeAttachments"].as_array().unwrap();
        let got: Vec<(String, i64, u64)> = list
            .iter()
            .map(|v| {
                (
                    v["device"].as_str().unwrap().to_string(),
                    v["bootIndex"].as_i64().unwrap(),
                    v["size"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("/dev/vda".to_string(), 0, 40),
                ("/dev/vdb".to_string(), -1, 10),
                ("/dev/vdc".to_string(), -1, 100)
            ]
        );
        assert!(list.iter().all(|v| v["serverId"] == json!(id)));
        assert_eq!(body["attachableQuantity"]["free_blk"], json!(21));
        assert!(
            call(
                &mut world,
                list_block_devices,
                vec!["nope".into()],
                &Value::Null
            )
            .is_err()
        );
    }

    #[test]
    fn tag_deletes_match_the_value_when_one_is_given() {
        let mut world = crate::world::World::fresh(crate::world::now_ms());
        let subnet = world.subnets.values().next().unwrap().clone();
        let image = crate::ops::ims::gold_id(&crate::ops::ims::GOLD[0]);
        let body = json!({"server": {
            "name": "tags", "imageRef": image, "flavorRef": "s7n.large.2", "vpcid": subnet.vpc_id,
            "nics": [{"subnet_id": subnet.id}], "root_volume": {"volumetype": "SSD"},
            "server_tags": [{"key": "build", "value": "b1"}],
        }});
        let created = call(&mut world, create_v1, Vec::new(), &body)
            .unwrap_or_else(|_| panic!("create refused"));
        let id = created.body.unwrap()["serverIds"][0]
            .as_str()
            .unwrap()
            .to_string();
        let act = |world: &mut crate::world::World, body: Value| {
            call(world, server_tags_action, vec![id.clone()], &body)
                .map(|r| r.status)
                .map_err(|e| e.body)
        };
        assert_eq!(
            act(
                &mut world,
                json!({"action": "create", "tags": [{"key": "a", "value": "1"}, {"key": "build", "value": "b2"}]})
            ),
            Ok(204)
        );
        assert_eq!(world.servers[&id].tags, ["build=b2", "a=1"]);
        // A value that does not match keeps the tag; an empty or missing value matches any.
        assert_eq!(
            act(
                &mut world,
                json!({"action": "delete", "tags": [{"key": "a", "value": "2"}]})
            ),
            Ok(204)
        );
        assert_eq!(world.servers[&id].tags, ["build=b2", "a=1"]);
        assert_eq!(
            act(
                &mut world,
                json!({"action": "delete", "tags": [{"key": "a", "value": ""}, {"key": "build"}, {"key": "absent"}]})
            ),
            Ok(204)
        );
        assert!(world.servers[&id].tags.is_empty());
        for bad in [
            json!({"action": "replace", "tags": []}),
            json!({"action": "create", "tags": [{"key": "k=v", "value": "1"}]}),
            json!({"action": "create", "tags": [{"key": "k"}]}),
            json!({"action": "create", "tags": [{"key": "k", "value": "v"}], "extra": 1}),
        ] {
            let err = act(&mut world, bad.clone()).expect_err("refused");
            assert!(err["error"]["code"] == "Ecs.0005", "{bad}: {err}");
        }
        assert!(
            call(
                &mut world,
                server_tags_action,
                vec!["nope".into()],
                &json!({"action": "create", "tags": []})
            )
            .is_err()
        );
    }

    #[test]
    fn base64_decodes() {
        assert_eq!(decode_b64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_b64("aGVsbG8h").unwrap(), b"hello!");
        assert_eq!(decode_b64("aGk=\n").unwrap(), b"hi");
        assert!(decode_b64("a=bc").is_none());
        assert!(decode_b64("abc").is_none());
    }
}
