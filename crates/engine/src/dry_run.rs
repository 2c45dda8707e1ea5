//! The `--dry-run` plan of a `huaweicloud-ecs` source: what a build would create (with names,
//! sizes and zones), what of it is billed while it exists (no prices, only the billable items),
//! and the ordered API calls it would make, following the plugin v1.x's steps. Pure: it reads
//! the checked configuration only and never talks to a cloud.

use serde::Serialize;

use cce_template::schema::communicator::{Communicator, KeyPair};
use cce_template::schema::huaweicloud::{
    DataDiskSource, HuaweiEcsConfig, ImageType, SecurityGroupRef, SourceImage,
};

use crate::ledger::{NAME_PREFIX, ResourceKind, build_tags, resource_name};

/// CIDR of the temporary VPC the plugin v1.x creates when `vpc_id` is not set.
pub const TEMP_VPC_CIDR: &str = "172.16.0.0/16";
/// CIDR of the temporary subnet.
pub const TEMP_SUBNET_CIDR: &str = "172.16.0.0/24";
/// Gateway of the temporary subnet.
pub const TEMP_SUBNET_GATEWAY: &str = "172.16.0.1";

/// Everything a build of one source would do, before it does it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DryRun {
    /// The build id the names were made from, or a placeholder.
    pub build_id: String,
    /// `local` (embedded local cloud) or the region.
    pub target: String,
    pub resources: Vec<PlannedResource>,
    pub billed: Vec<BilledItem>,
    pub calls: Vec<PlannedCall>,
    /// What the reader should know that fits nowhere else.
    pub notes: Vec<String>,
}

/// One resource the build creates or uses.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlannedResource {
    /// keypair, vpc, subnet, eip, server, volume, image, share.
    pub kind: String,
    /// The name it gets, or the id of an existing one.
    pub name: String,
    pub lifetime: Lifetime,
    /// Properties in a stable order (`flavor`, `availability_zone`, ...).
    pub details: Vec<(String, String)>,
}

/// Whether a resource outlives the build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifetime {
    /// Created by the build and deleted at its end.
    Temporary,
    /// Created by the build and kept: the artifact.
    Kept,
    /// Exists already; the build uses it and never deletes it.
    Existing,
}

impl Lifetime {
    fn label(self) -> &'static str {
        match self {
            Lifetime::Temporary => "temporary, deleted at the end",
            Lifetime::Kept => "kept after the build",
            Lifetime::Existing => "existing, not deleted",
        }
    }
}

/// One thing the cloud charges for while it exists.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BilledItem {
    /// The resource it belongs to (its name in [`DryRun::resources`]).
    pub resource: String,
    /// What is billed, e.g. `server s7n.large.2`.
    pub item: String,
    /// How it is measured, e.g. `per hour`, `per GB per hour`, `per GB of outbound traffic`.
    pub unit: String,
    /// How much of it, e.g. `40 GB`, `5 Mbit/s cap`.
    pub quantity: String,
}

/// One API call, in the order the build makes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedCall {
    /// The step that makes it (the plugin's step names).
    pub step: String,
    pub service: String,
    pub method: String,
    pub path: String,
    /// Why or when (a wait, a condition).
    pub note: String,
}

fn call(step: &str, service: &str, method: &str, path: &str, note: &str) -> PlannedCall {
    PlannedCall {
        step: step.into(),
        service: service.into(),
        method: method.into(),
        path: path.into(),
        note: note.into(),
    }
}

fn pairs(items: &[(&str, String)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// The names a build gives its resources: from the build id when known, else a placeholder
/// of the same shape.
fn namer(build_id_hint: Option<&str>) -> impl Fn(ResourceKind) -> String {
    let id = build_id_hint.map(str::to_string);
    move |kind| match &id {
        Some(id) => resource_name(id, &kind),
        None => format!("{NAME_PREFIX}<build>-{}", kind.slug()),
    }
}

/// The plan of a build of `cfg`. `build_id_hint` names the resources as that build would.
pub fn plan(cfg: &HuaweiEcsConfig, build_id_hint: Option<&str>) -> DryRun {
    let name = namer(build_id_hint);
    let build_id = build_id_hint.unwrap_or("<build>").to_string();
    let mut resources = Vec::new();
    let mut billed = Vec::new();
    let mut calls = Vec::new();
    let mut notes = Vec::new();
    let target = if cfg.local_cloud {
        notes.push(
            "access_key and secret_key are empty: the build runs on the embedded local cloud, which bills nothing and fills empty fields".to_string(),
        );
        "local".to_string()
    } else {
        cfg.region.clone()
    };

    // 1. Zone.
    calls.push(call(
        "load availability zone",
        "ecs",
        "GET",
        "/v2.1/{project_id}/os-availability-zone",
        match &cfg.availability_zone {
            Some(_) => "checks that the zone exists and is available",
            None => "picks one of the available zones",
        },
    ));
    let az = cfg
        .availability_zone
        .clone()
        .unwrap_or_else(|| "picked from the available zones".to_string());

    // 2. Data disk sources.
    for (i, d) in cfg.data_disks.iter().enumerate() {
        let n = i + 1;
        match &d.source {
            DataDiskSource::Volume(id) => calls.push(call(
                "check volumes",
                "evs",
                "GET",
                &format!("/v2/{{project_id}}/cloudvolumes/detail?id={id}&availability_zone={az}"),
                &format!("data disk {n} must exist in the zone"),
            )),
            DataDiskSource::Snapshot(id) => calls.push(call(
                "check volumes",
                "evs",
                "GET",
                &format!("/v2/{{project_id}}/cloudsnapshots/detail?id={id}"),
                &format!("data disk {n}: the snapshot must exist"),
            )),
            DataDiskSource::Image(id) => calls.push(call(
                "check volumes",
                "ims",
                "GET",
                &format!("/v2/cloudimages?id={id}"),
                &format!("data disk {n}: reads the data image's min_disk"),
            )),
            DataDiskSource::Size(_) => {}
        }
    }

    // 3. Key pair.
    let key_name = match cfg.communicator.ssh().map(|s| &s.key_pair) {
        Some(KeyPair::Temporary { name: kp }) => {
            let kp = kp.clone().unwrap_or_else(|| name(ResourceKind::Keypair));
            resources.push(PlannedResource {
                kind: "keypair".into(),
                name: kp.clone(),
                lifetime: Lifetime::Temporary,
                details: pairs(&[(
                    "private key",
                    "generated by the cloud, kept in memory".into(),
                )]),
            });
            calls.push(call(
                "create key pair",
                "ecs",
                "POST",
                "/v2.1/{project_id}/os-keypairs",
                &format!("name {kp}"),
            ));
            Some((kp, true))
        }
        Some(KeyPair::Existing { name: kp }) => {
            resources.push(PlannedResource {
                kind: "keypair".into(),
                name: kp.clone(),
                lifetime: Lifetime::Existing,
                details: Vec::new(),
            });
            Some((kp.clone(), false))
        }
        Some(KeyPair::NotUsed) | None => None,
    };

    // 4. Source image.
    let (image_path, image_note) = match &cfg.source_image {
        Some(SourceImage::Id(id)) => (
            format!("/v2/cloudimages?id={id}"),
            "the source image must be active".to_string(),
        ),
        Some(SourceImage::Name(n)) => (
            format!("/v2/cloudimages?name={n}&status=active"),
            "the newest active image of that name".to_string(),
        ),
        Some(SourceImage::Filter(f)) => {
            let mut q = vec!["status=active".to_string()];
            if let Some(n) = &f.name {
                q.push(format!("name={n}"));
            }
            if let Some(o) = &f.owner {
                q.push(format!("owner={o}"));
            }
            if let Some(t) = &f.image_type {
                q.push(format!("__imagetype={t}"));
            }
            if let Some(t) = &f.tag {
                q.push(format!("tag={t}"));
            }
            let pick = if f.most_recent {
                "the newest match"
            } else {
                "exactly one match"
            };
            (format!("/v2/cloudimages?{}", q.join("&")), pick.to_string())
        }
        None => (
            "/v2/cloudimages".to_string(),
            "the local cloud's CCE base image".to_string(),
        ),
    };
    calls.push(call(
        "source image info",
        "ims",
        "GET",
        &image_path,
        &image_note,
    ));

    // 5. Network.
    let (vpc_ref, subnet_refs) = match &cfg.vpc_id {
        Some(vpc) => {
            calls.push(call(
                "create network",
                "vpc",
                "GET",
                &format!("/v1/{{project_id}}/vpcs/{vpc}"),
                "the VPC must exist",
            ));
            resources.push(PlannedResource {
                kind: "vpc".into(),
                name: vpc.clone(),
                lifetime: Lifetime::Existing,
                details: Vec::new(),
            });
            for s in &cfg.subnets {
                resources.push(PlannedResource {
                    kind: "subnet".into(),
                    name: s.clone(),
                    lifetime: Lifetime::Existing,
                    details: pairs(&[("vpc", vpc.clone())]),
                });
            }
            (vpc.clone(), cfg.subnets.clone())
        }
        None => {
            let vpc = name(ResourceKind::Vpc);
            let subnet = name(ResourceKind::Subnet);
            resources.push(PlannedResource {
                kind: "vpc".into(),
                name: vpc.clone(),
                lifetime: Lifetime::Temporary,
                details: pairs(&[("cidr", TEMP_VPC_CIDR.into())]),
            });
            resources.push(PlannedResource {
                kind: "subnet".into(),
                name: subnet.clone(),
                lifetime: Lifetime::Temporary,
                details: pairs(&[
                    ("cidr", TEMP_SUBNET_CIDR.into()),
                    ("gateway", TEMP_SUBNET_GATEWAY.into()),
                    ("vpc", vpc.clone()),
                ]),
            });
            calls.push(call(
                "create network",
                "vpc",
                "POST",
                "/v1/{project_id}/vpcs",
                &format!("name {vpc}, cidr {TEMP_VPC_CIDR}"),
            ));
            calls.push(call(
                "create network",
                "vpc",
                "GET",
                "/v1/{project_id}/vpcs/{vpc_id}",
                "until status OK (3 min)",
            ));
            calls.push(call(
                "create network",
                "vpc",
                "POST",
                "/v1/{project_id}/subnets",
                &format!("name {subnet}, cidr {TEMP_SUBNET_CIDR}"),
            ));
            calls.push(call(
                "create network",
                "vpc",
                "GET",
                "/v1/{project_id}/subnets/{subnet_id}",
                "until status ACTIVE (3 min)",
            ));
            notes.push(format!(
                "vpc_id is not set: a temporary VPC {TEMP_VPC_CIDR} will be created; set vpc_id and subnets if that range collides with your network"
            ));
            (vpc, vec![subnet])
        }
    };

    // 6. Public IP.
    let mut temp_eip = None;
    let eip_ref = if !cfg.associate_public_ip_address {
        notes.push("associate_public_ip_address is false: the server gets no EIP and SSH goes to its private IP".into());
        None
    } else if let Some(id) = &cfg.floating_ip {
        calls.push(call(
            "create public ip",
            "vpc",
            "GET",
            &format!("/v1/{{project_id}}/publicips/{id}"),
            "the EIP must not be bound",
        ));
        resources.push(PlannedResource {
            kind: "eip".into(),
            name: id.clone(),
            lifetime: Lifetime::Existing,
            details: pairs(&[("source", "floating_ip".into())]),
        });
        Some(id.clone())
    } else if cfg.reuse_ips {
        calls.push(call(
            "create public ip",
            "vpc",
            "GET",
            "/v1/{project_id}/publicips",
            "takes the first unbound EIP",
        ));
        resources.push(PlannedResource {
            kind: "eip".into(),
            name: "the first unbound EIP of the project".into(),
            lifetime: Lifetime::Existing,
            details: pairs(&[("source", "reuse_ips".into())]),
        });
        Some("{eip_id}".to_string())
    } else if cfg.eip_bandwidth_size > 0 {
        let eip = name(ResourceKind::Eip);
        resources.push(PlannedResource {
            kind: "eip".into(),
            name: eip.clone(),
            lifetime: Lifetime::Temporary,
            details: pairs(&[
                ("type", cfg.eip_type.clone()),
                ("bandwidth", format!("{} Mbit/s", cfg.eip_bandwidth_size)),
                ("share type", "PER".into()),
                ("charge mode", "traffic".into()),
            ]),
        });
        calls.push(call(
            "create public ip",
            "vpc",
            "POST",
            "/v1/{project_id}/publicips",
            &format!(
                "type {}, bandwidth {} Mbit/s charged by traffic",
                cfg.eip_type, cfg.eip_bandwidth_size
            ),
        ));
        calls.push(call(
            "create public ip",
            "vpc",
            "GET",
            "/v1/{project_id}/publicips/{eip_id}",
            "until DOWN or ACTIVE (5 min)",
        ));
        temp_eip = Some(eip);
        Some("{eip_id}".to_string())
    } else {
        notes.push(
            "no EIP is created (eip_bandwidth_size is 0, no floating_ip, reuse_ips false): SSH goes to the server's private IP, which this host must reach".into(),
        );
        None
    };

    // 7. Server.
    let server = cfg
        .instance_name
        .clone()
        .unwrap_or_else(|| name(ResourceKind::Server));
    let flavor = cfg
        .flavor
        .clone()
        .unwrap_or_else(|| "chosen by the local cloud".into());
    let disk_size = match cfg.volume_size {
        Some(n) => format!("{n} GB"),
        None => "the source image's min_disk".into(),
    };
    let sgs: Vec<String> = cfg
        .security_groups
        .iter()
        .map(|g| match g {
            SecurityGroupRef::Id(id) => id.clone(),
            SecurityGroupRef::Name(n) => format!("{n} (by name)"),
        })
        .collect();
    let mut server_details = pairs(&[
        ("flavor", flavor.clone()),
        ("availability zone", az.clone()),
        ("system disk", format!("{} {}", cfg.volume_type, disk_size)),
        ("vpc", vpc_ref.clone()),
        ("subnets", subnet_refs.join(", ")),
        (
            "security groups",
            if sgs.is_empty() {
                "the default group".into()
            } else {
                sgs.join(", ")
            },
        ),
        (
            "charging",
            if cfg.spot_pricing {
                "spot".into()
            } else {
                "pay-per-use".into()
            },
        ),
    ]);
    if let Some((kp, _)) = &key_name {
        server_details.push(("key pair".into(), kp.clone()));
    }
    if let Some(e) = &eip_ref {
        server_details.push(("eip".into(), e.clone()));
    }
    resources.push(PlannedResource {
        kind: "server".into(),
        name: server.clone(),
        lifetime: Lifetime::Temporary,
        details: server_details,
    });
    calls.push(call(
        "run source server",
        "ecs",
        "POST",
        "/v1/{project_id}/cloudservers",
        &format!("name {server}, flavor {flavor}"),
    ));
    calls.push(call(
        "run source server",
        "ecs",
        "GET",
        "/v1/{project_id}/jobs/{job_id}",
        "until SUCCESS (10 min)",
    ));
    calls.push(call(
        "run source server",
        "ecs",
        "GET",
        "/v1/{project_id}/cloudservers/{server_id}",
        "until ACTIVE",
    ));
    calls.push(call(
        "run source server",
        "ecs",
        "GET",
        "/v1/{project_id}/cloudservers/{server_id}/os-interface",
        "the private IP",
    ));

    let billed_while = "per hour while it exists";
    if !cfg.local_cloud {
        let item = if cfg.spot_pricing {
            match &cfg.spot_maximum_price {
                Some(p) => format!("spot server {flavor} (at most {p} per hour)"),
                None => format!("spot server {flavor}"),
            }
        } else {
            format!("server {flavor}")
        };
        billed.push(BilledItem {
            resource: server.clone(),
            item,
            unit: billed_while.into(),
            quantity: "1".into(),
        });
        billed.push(BilledItem {
            resource: server.clone(),
            item: format!("system disk {}", cfg.volume_type),
            unit: "per GB per hour while it exists".into(),
            quantity: disk_size.clone(),
        });
    }

    // 8. Data disks.
    for (i, d) in cfg.data_disks.iter().enumerate() {
        let n = i + 1;
        let vol_name = format!("{server}-volume-{n:04}");
        let (lifetime, size, from) = match &d.source {
            DataDiskSource::Size(gb) => {
                (Lifetime::Temporary, format!("{gb} GB"), "empty".to_string())
            }
            DataDiskSource::Image(id) => (
                Lifetime::Temporary,
                "the data image's min_disk".into(),
                format!("image {id}"),
            ),
            DataDiskSource::Snapshot(id) => (
                Lifetime::Temporary,
                "the snapshot's size".into(),
                format!("snapshot {id}"),
            ),
            DataDiskSource::Volume(id) => (
                Lifetime::Existing,
                "its own size".into(),
                format!("volume {id}"),
            ),
        };
        let shown = if let DataDiskSource::Volume(id) = &d.source {
            id.clone()
        } else {
            vol_name
        };
        resources.push(PlannedResource {
            kind: "volume".into(),
            name: shown.clone(),
            lifetime,
            details: pairs(&[
                ("type", d.volume_type.clone()),
                ("size", size.clone()),
                ("from", from),
            ]),
        });
        match &d.source {
            DataDiskSource::Volume(id) => {
                calls.push(call(
                    "attach volume",
                    "ecs",
                    "POST",
                    "/v1/{project_id}/cloudservers/{server_id}/attachvolume",
                    &format!("volume {id}"),
                ));
                calls.push(call(
                    "attach volume",
                    "ecs",
                    "GET",
                    "/v1/{project_id}/jobs/{job_id}",
                    "until SUCCESS (10 min)",
                ));
            }
            _ => {
                calls.push(call(
                    "attach volume",
                    "evs",
                    "POST",
                    "/v2.1/{project_id}/cloudvolumes",
                    &format!("{shown}, created attached to the server"),
                ));
                calls.push(call(
                    "attach volume",
                    "evs",
                    "GET",
                    "/v1/{project_id}/jobs/{job_id}",
                    "until SUCCESS (10 min)",
                ));
                if !cfg.local_cloud {
                    billed.push(BilledItem {
                        resource: shown.clone(),
                        item: format!("data disk {}", d.volume_type),
                        unit: "per GB per hour while it exists".into(),
                        quantity: size,
                    });
                }
            }
        }
    }

    // 9. Provisioning happens over SSH: no API calls.
    if matches!(cfg.communicator, Communicator::None) {
        notes.push("communicator is \"none\": nothing is provisioned, the image is the source image as booted".into());
    }

    // 10. Stop.
    calls.push(call(
        "stop server",
        "ecs",
        "POST",
        "/v1/{project_id}/cloudservers/action",
        "os-stop",
    ));
    calls.push(call(
        "stop server",
        "ecs",
        "GET",
        "/v1/{project_id}/jobs/{job_id}",
        "until SUCCESS",
    ));
    calls.push(call(
        "stop server",
        "ecs",
        "GET",
        "/v1/{project_id}/cloudservers/{server_id}",
        "until SHUTOFF",
    ));

    // 11. Image.
    let image_name = cfg
        .image_name
        .clone()
        .unwrap_or_else(|| name(ResourceKind::Image));
    let mut tags = cfg.image_tags.clone();
    if let Some(id) = build_id_hint {
        tags.extend(build_tags(id));
    }
    let image_kind = match cfg.image_type {
        ImageType::System => "system",
        ImageType::DataDisk => "data-disk",
        ImageType::SystemData => "system-data",
        ImageType::FullEcs => "full-ecs",
    };
    let mut image_details = pairs(&[("type", image_kind.into())]);
    if !tags.is_empty() {
        let t: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        image_details.push(("tags".into(), t.join(", ")));
    }
    if let Some(d) = &cfg.image_description {
        image_details.push(("description".into(), d.clone()));
    }
    if let Some(m) = cfg.image_min_disk {
        image_details.push(("min disk".into(), format!("{m} GB")));
    }
    resources.push(PlannedResource {
        kind: "image".into(),
        name: image_name.clone(),
        lifetime: Lifetime::Kept,
        details: image_details,
    });
    match cfg.image_type {
        ImageType::System => {
            calls.push(call(
                "create image",
                "ims",
                "POST",
                "/v2/cloudimages/action",
                &format!("name {image_name}, instance_id {{server_id}}"),
            ));
        }
        ImageType::FullEcs => {
            let vault = cfg.vault_id.clone().unwrap_or_default();
            calls.push(call(
                "create image",
                "ims",
                "POST",
                "/v1/cloudimages/wholeimages/action",
                &format!("name {image_name}, vault {vault}"),
            ));
        }
        ImageType::DataDisk | ImageType::SystemData => {
            if cfg.image_type == ImageType::SystemData {
                calls.push(call(
                    "create image",
                    "ims",
                    "POST",
                    "/v2/cloudimages/action",
                    &format!("system image {image_name}"),
                ));
            }
            calls.push(call(
                "create image",
                "ecs",
                "GET",
                "/v1/{project_id}/cloudservers/{server_id}/block_device",
                "finds the data disks",
            ));
            calls.push(call(
                "create image",
                "ims",
                "POST",
                "/v2/cloudimages/action",
                "data_images, one per data disk",
            ));
        }
    }
    calls.push(call(
        "create image",
        "ims",
        "GET",
        "/v1/{project_id}/jobs/{job_id}",
        &format!(
            "until SUCCESS ({}s)",
            cfg.wait_image_ready_timeout.0.as_secs()
        ),
    ));
    if !cfg.local_cloud {
        let item = if cfg.image_type == ImageType::FullEcs {
            "full-ECS image backup in the CBR vault".to_string()
        } else {
            "private image storage, if the cloud charges for it".to_string()
        };
        billed.push(BilledItem {
            resource: image_name.clone(),
            item,
            unit: "per GB per month, after the build until you delete it".into(),
            quantity: "the image's size".into(),
        });
    }
    if cfg.image_min_disk.is_some() {
        calls.push(call(
            "update image min disk",
            "ims",
            "PATCH",
            "/v2/cloudimages/{image_id}",
            "/min_disk",
        ));
    }

    // 12. Shares.
    if !cfg.image_members.is_empty() {
        resources.push(PlannedResource {
            kind: "share".into(),
            name: image_name.clone(),
            lifetime: Lifetime::Kept,
            details: pairs(&[("projects", cfg.image_members.join(", "))]),
        });
        calls.push(call(
            "add image members",
            "ims",
            "POST",
            "/v1/cloudimages/members",
            &format!("{} project(s)", cfg.image_members.len()),
        ));
        calls.push(call(
            "add image members",
            "ims",
            "GET",
            "/v1/{project_id}/jobs/{job_id}",
            "until SUCCESS",
        ));
    }

    // EIP traffic is billed while the server uses it.
    if !cfg.local_cloud {
        if let Some(eip) = &temp_eip {
            billed.push(BilledItem {
                resource: eip.clone(),
                item: format!("EIP bandwidth ({}, charged by traffic)", cfg.eip_type),
                unit: "per GB of outbound traffic".into(),
                quantity: format!("up to {} Mbit/s", cfg.eip_bandwidth_size),
            });
        } else if eip_ref.is_some() {
            billed.push(BilledItem {
                resource: resources
                    .iter()
                    .find(|r| r.kind == "eip")
                    .map(|r| r.name.clone())
                    .unwrap_or_default(),
                item: "traffic through an existing EIP, on its own bandwidth's terms".into(),
                unit: "as that EIP is billed".into(),
                quantity: "the build's downloads and uploads".into(),
            });
        }
    }

    // 13. Cleanup, in reverse.
    for d in &cfg.data_disks {
        if let DataDiskSource::Volume(id) = &d.source {
            calls.push(call(
                "cleanup",
                "ecs",
                "DELETE",
                &format!("/v1/{{project_id}}/cloudservers/{{server_id}}/detachvolume/{id}"),
                "keeps the user's volume",
            ));
        }
    }
    calls.push(call(
        "cleanup",
        "ecs",
        "POST",
        "/v1/{project_id}/cloudservers/delete",
        "with its volumes",
    ));
    calls.push(call(
        "cleanup",
        "ecs",
        "GET",
        "/v1/{project_id}/cloudservers/{server_id}",
        "until 404",
    ));
    if temp_eip.is_some() {
        calls.push(call(
            "cleanup",
            "vpc",
            "DELETE",
            "/v1/{project_id}/publicips/{eip_id}",
            "the temporary EIP",
        ));
    }
    if cfg.vpc_id.is_none() {
        calls.push(call(
            "cleanup",
            "vpc",
            "DELETE",
            "/v1/{project_id}/vpcs/{vpc_id}/subnets/{subnet_id}",
            "until 404",
        ));
        calls.push(call(
            "cleanup",
            "vpc",
            "DELETE",
            "/v1/{project_id}/vpcs/{vpc_id}",
            "until 404",
        ));
    }
    if let Some((kp, true)) = &key_name {
        calls.push(call(
            "cleanup",
            "ecs",
            "DELETE",
            &format!("/v2.1/{{project_id}}/os-keypairs/{kp}"),
            "the temporary key pair",
        ));
    }

    DryRun {
        build_id,
        target,
        resources,
        billed,
        calls,
        notes,
    }
}

/// The plan as text for a terminal: resources, billed items, calls, notes.
pub fn render_text(d: &DryRun) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let target = if d.target == "local" {
        "the embedded local cloud".to_string()
    } else {
        format!("region {}", d.target)
    };
    let _ = writeln!(
        out,
        "Dry run of build {} on {target}: nothing is created.",
        d.build_id
    );
    let _ = writeln!(out, "\nResources:");
    for r in &d.resources {
        let _ = writeln!(out, "  {} {} ({})", r.kind, r.name, r.lifetime.label());
        for (k, v) in &r.details {
            let _ = writeln!(out, "      {k}: {v}");
        }
    }
    let _ = writeln!(out, "\nBilled:");
    if d.billed.is_empty() {
        let _ = writeln!(out, "  nothing");
    }
    for b in &d.billed {
        let _ = writeln!(
            out,
            "  {}: {}, {} ({})",
            b.resource, b.item, b.quantity, b.unit
        );
    }
    let _ = writeln!(out, "\nAPI calls, in order:");
    for (i, c) in d.calls.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {:>2}. {:<6} {} {}  [{}] {}",
            i + 1,
            c.method,
            c.service,
            c.path,
            c.step,
            c.note
        );
    }
    if !d.notes.is_empty() {
        let _ = writeln!(out, "\nNotes:");
        for n in &d.notes {
            let _ = writeln!(out, "  - {n}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use cce_template::load::{LoadOptions, load};
    use cce_template::schema::{SourceConfig, plan_with_env};

    /// The checked config of the one huaweicloud-ecs source of a template whose source body is
    /// `body`, with credentials from the environment map (the real-cloud mode).
    fn cfg(body: &str) -> HuaweiEcsConfig {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "source \"huaweicloud-ecs\" \"b\" {{\n  region = \"ru-moscow-1\"\n  flavor = \"s7n.large.2\"\n  source_image = \"img-1\"\n  image_name = \"cce-node\"\n  ssh_username = \"root\"\n{body}\n}}\nbuild {{\n  sources = [\"source.huaweicloud-ecs.b\"]\n}}\n"
        );
        std::fs::write(dir.path().join("t.pkr.hcl"), text).unwrap();
        let env: BTreeMap<String, String> = [
            ("HW_ACCESS_KEY".to_string(), "AK".to_string()),
            ("HW_SECRET_KEY".to_string(), "SK".to_string()),
        ]
        .into();
        let loaded = load(&LoadOptions {
            path: dir.path().to_path_buf(),
            env: env.clone(),
            ..Default::default()
        })
        .unwrap();
        let (plan, diags) = plan_with_env(&loaded.blocks, &env);
        assert!(!diags.has_errors(), "{}", diags.render(&loaded.sources));
        match &plan.unwrap().builds[0].sources[0].config {
            SourceConfig::HuaweiEcs(c) => c.clone(),
            other => panic!("not a huaweicloud-ecs source: {other:?}"),
        }
    }

    fn kinds(d: &DryRun) -> Vec<(String, Lifetime)> {
        d.resources
            .iter()
            .map(|r| (r.kind.clone(), r.lifetime))
            .collect()
    }

    fn paths(d: &DryRun) -> Vec<String> {
        d.calls
            .iter()
            .map(|c| format!("{} {}", c.method, c.path))
            .collect()
    }

    fn detail<'a>(d: &'a DryRun, kind: &str, key: &str) -> &'a str {
        let r = d
            .resources
            .iter()
            .find(|r| r.kind == kind)
            .unwrap_or_else(|| panic!("no {kind}"));
        r.details
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{kind} has no {key}"))
    }

    #[test]
    fn without_vpc_a_temporary_network_and_eip_are_planned_and_deleted() {
        let d = plan(
            &cfg("  eip_bandwidth_size = 5\n  volume_size = 40"),
            Some("20260101T000000Z-abcd1234"),
        );
        use Lifetime::*;
        assert_eq!(
            kinds(&d),
            [
                ("keypair".into(), Temporary),
                ("vpc".into(), Temporary),
                ("subnet".into(), Temporary),
                ("eip".into(), Temporary),
                ("server".into(), Temporary),
                ("image".into(), Kept),
            ]
        );
        assert_eq!(d.resources[0].name, "cce-ib-abcd1234-kp");
        assert_eq!(d.resources[1].name, "cce-ib-abcd1234-vpc");
        assert_eq!(detail(&d, "vpc", "cidr"), "172.16.0.0/16");
        assert_eq!(detail(&d, "eip", "bandwidth"), "5 Mbit/s");
        assert_eq!(detail(&d, "eip", "charge mode"), "traffic");
        assert_eq!(detail(&d, "server", "system disk"), "SSD 40 GB");
        assert_eq!(detail(&d, "server", "flavor"), "s7n.large.2");
        assert!(
            detail(&d, "image", "tags")
                .contains("cce-image-builder-build=20260101T000000Z-abcd1234")
        );
        let p = paths(&d);
        let pos = |s: &str| {
            p.iter()
                .position(|x| x == s)
                .unwrap_or_else(|| panic!("no call {s} in {p:#?}"))
        };
        // The plugin's order: zone, key pair, image, network, EIP, server, stop, image; cleanup reversed.
        assert!(
            pos("GET /v2.1/{project_id}/os-availability-zone")
                < pos("POST /v2.1/{project_id}/os-keypairs")
        );
        assert!(pos("POST /v2.1/{project_id}/os-keypairs") < pos("GET /v2/cloudimages?id=img-1"));
        assert!(pos("POST /v1/{project_id}/vpcs") < pos("POST /v1/{project_id}/subnets"));
        assert!(pos("POST /v1/{project_id}/subnets") < pos("POST /v1/{project_id}/publicips"));
        assert!(pos("POST /v1/{project_id}/publicips") < pos("POST /v1/{project_id}/cloudservers"));
        assert!(
            pos("POST /v1/{project_id}/cloudservers/action") < pos("POST /v2/cloudimages/action")
        );
        assert!(
            pos("POST /v1/{project_id}/cloudservers/delete")
                < pos("DELETE /v1/{project_id}/publicips/{eip_id}")
        );
        assert!(
            pos("DELETE /v1/{project_id}/publicips/{eip_id}")
                < pos("DELETE /v1/{project_id}/vpcs/{vpc_id}/subnets/{subnet_id}")
        );
        assert!(
            pos("DELETE /v1/{project_id}/vpcs/{vpc_id}")
                < pos("DELETE /v2.1/{project_id}/os-keypairs/cce-ib-abcd1234-kp")
        );
        let billed: Vec<&str> = d.billed.iter().map(|b| b.item.as_str()).collect();
        assert!(billed.contains(&"server s7n.large.2"), "{billed:?}");
        assert!(billed.contains(&"system disk SSD"), "{billed:?}");
        let eip = d
            .billed
            .iter()
            .find(|b| b.resource == "cce-ib-abcd1234-eip")
            .expect("the EIP is billed");
        assert_eq!(
            (eip.unit.as_str(), eip.quantity.as_str()),
            ("per GB of outbound traffic", "up to 5 Mbit/s")
        );
        assert!(
            d.notes
                .iter()
                .any(|n| n.contains("temporary VPC 172.16.0.0/16")),
            "{:?}",
            d.notes
        );
    }

    #[test]
    fn an_existing_vpc_and_floating_ip_are_used_and_never_deleted() {
        let d = plan(
            &cfg(
                "  vpc_id = \"vpc-1\"\n  subnets = [\"net-1\"]\n  security_groups = [\"default\"]\n  floating_ip = \"eip-1\"",
            ),
            None,
        );
        use Lifetime::*;
        assert_eq!(
            kinds(&d),
            [
                ("keypair".into(), Temporary),
                ("vpc".into(), Existing),
                ("subnet".into(), Existing),
                ("eip".into(), Existing),
                ("server".into(), Temporary),
                ("image".into(), Kept),
            ]
        );
        assert_eq!(d.resources[0].name, "cce-ib-<build>-kp");
        assert_eq!(detail(&d, "subnet", "vpc"), "vpc-1");
        assert_eq!(detail(&d, "server", "security groups"), "default (by name)");
        assert_eq!(
            detail(&d, "server", "system disk"),
            "SSD the source image's min_disk"
        );
        let p = paths(&d);
        assert!(
            p.contains(&"GET /v1/{project_id}/vpcs/vpc-1".to_string()),
            "{p:#?}"
        );
        assert!(
            p.contains(&"GET /v1/{project_id}/publicips/eip-1".to_string()),
            "{p:#?}"
        );
        for forbidden in [
            "POST /v1/{project_id}/vpcs",
            "POST /v1/{project_id}/publicips",
            "DELETE /v1/{project_id}/publicips/{eip_id}",
        ] {
            assert!(
                !p.iter().any(|x| x == forbidden),
                "{forbidden} must not be planned: {p:#?}"
            );
        }
        assert!(
            !p.iter()
                .any(|x| x.starts_with("DELETE /v1/{project_id}/vpcs")),
            "{p:#?}"
        );
        assert!(
            d.billed
                .iter()
                .all(|b| !b.item.starts_with("EIP bandwidth")),
            "{:?}",
            d.billed
        );
        assert!(
            d.billed.iter().any(|b| b.resource == "eip-1"),
            "traffic through the given EIP is named: {:?}",
            d.billed
        );
    }

    #[test]
    fn without_a_public_ip_nothing_about_eips_is_planned() {
        let d = plan(
            &cfg(
                "  vpc_id = \"vpc-1\"\n  subnets = [\"net-1\"]\n  associate_public_ip_address = false",
            ),
            Some("b-1234"),
        );
        assert!(d.resources.iter().all(|r| r.kind != "eip"));
        assert!(
            d.calls.iter().all(|c| !c.path.contains("publicips")),
            "{:#?}",
            d.calls
        );
        assert!(
            d.notes.iter().any(|n| n.contains("private IP")),
            "{:?}",
            d.notes
        );
        // Default zone: picked, and said so.
        assert_eq!(
            detail(&d, "server", "availability zone"),
            "picked from the available zones"
        );
    }

    #[test]
    fn reuse_ips_data_disks_shares_and_spot_are_planned() {
        let d = plan(
            &cfg(
                "  reuse_ips = true\n  availability_zone = \"ru-moscow-1b\"\n  image_members = [\"p2\", \"p3\"]\n  spot_pricing = true\n  data_disks {\n    volume_size = 100\n    volume_type = \"SAS\"\n  }\n  data_disks {\n    volume_id = \"vol-9\"\n  }",
            ),
            Some("b-5678"),
        );
        assert_eq!(detail(&d, "eip", "source"), "reuse_ips");
        let vols: Vec<(&str, Lifetime)> = d
            .resources
            .iter()
            .filter(|r| r.kind == "volume")
            .map(|r| (r.name.as_str(), r.lifetime))
            .collect();
        assert_eq!(
            vols,
            [
                ("cce-node-volume-0001", Lifetime::Temporary),
                ("vol-9", Lifetime::Existing)
            ]
        );
        assert_eq!(detail(&d, "share", "projects"), "p2, p3");
        let p = paths(&d);
        assert!(
            p.contains(
                &"GET /v2/{project_id}/cloudvolumes/detail?id=vol-9&availability_zone=ru-moscow-1b"
                    .to_string()
            ),
            "{p:#?}"
        );
        assert!(p.contains(&"POST /v1/cloudimages/members".to_string()));
        assert!(p.contains(
            &"DELETE /v1/{project_id}/cloudservers/{server_id}/detachvolume/vol-9".to_string()
        ));
        // Data-disk image type is the default once data disks are present.
        assert_eq!(detail(&d, "image", "type"), "data-disk");
        assert!(
            d.billed
                .iter()
                .any(|b| b.item == "data disk SAS" && b.quantity == "100 GB"),
            "{:?}",
            d.billed
        );
        assert!(
            !d.billed.iter().any(|b| b.resource == "vol-9"),
            "an existing volume is not billed to the build"
        );
        assert!(
            d.billed.iter().any(|b| b.item == "spot server s7n.large.2"),
            "{:?}",
            d.billed
        );
    }

    #[test]
    fn local_cloud_bills_nothing_and_text_and_json_render() {
        let mut c = cfg("  eip_bandwidth_size = 5");
        c.local_cloud = true;
        let d = plan(&c, Some("b-0001"));
        assert!(d.billed.is_empty());
        assert_eq!(d.target, "local");
        let text = render_text(&d);
        assert!(
            text.starts_with(
                "Dry run of build b-0001 on the embedded local cloud: nothing is created."
            ),
            "{text}"
        );
        assert!(text.contains("Billed:\n  nothing"), "{text}");
        assert!(
            text.contains("POST   ecs /v1/{project_id}/cloudservers"),
            "{text}"
        );
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["resources"][0]["lifetime"], "temporary");
        assert_eq!(
            json["calls"][0]["path"],
            "/v2.1/{project_id}/os-availability-zone"
        );

        let real = render_text(&plan(&cfg("  eip_bandwidth_size = 5"), Some("b-0001")));
        assert!(real.contains("on region ru-moscow-1"), "{real}");
        assert!(real.contains("cce-ib-0001-eip: EIP bandwidth (5_bgp, charged by traffic), up to 5 Mbit/s (per GB of outbound traffic)"), "{real}");
    }
}
