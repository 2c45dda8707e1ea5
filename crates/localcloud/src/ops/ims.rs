//! IMS operations: the catalogue of public ("gold") base images, private images made from
//! servers with their jobs, listing with the real filters and paging, Glance show/delete, tags
//! and members.

use serde_json::{Value, json};

use super::{ApiError, Ctx, Reply, Shape};
use crate::config::draw;
use crate::faults::FaultKind;
use crate::world::{Image, Job, JobEntities, Member, iso, iso_millis, new_id};

/// A public base image: named for what backs it in the local cloud.
pub struct Gold {
    pub name: &'static str,
    pub os_version: &'static str,
    pub platform: &'static str,
    pub min_disk: u32,
}

pub const GOLD: &[Gold] = &[
    Gold {
        name: "Debian 12 (local sandbox rootfs)",
        os_version: "Debian GNU/Linux 12.0.0 64bit",
        platform: "Debian",
        min_disk: 10,
    },
    Gold {
        name: "Debian 12 CCE node base (local sandbox rootfs)",
        os_version: "Debian GNU/Linux 12.0.0 64bit",
        platform: "Debian",
        min_disk: 40,
    },
];

/// Namespace of the stable ids of gold images: the same in every local cloud.
const GOLD_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6c6f_6361_6c63_6c6f_7564_676f_6c64_0001);

pub fn gold_id(g: &Gold) -> String {
    uuid::Uuid::new_v5(&GOLD_NAMESPACE, g.name.as_bytes()).to_string()
}

/// Fields shared by both image kinds, as `ImageInfo` carries them (extension fields are strings).
fn base_image(
    id: &str,
    name: &str,
    status: &str,
    owner: &str,
    visibility: &str,
    imagetype: &str,
) -> Value {
    json!({
        "id": id,
        "name": name,
        "status": status,
        "owner": owner,
        "visibility": visibility,
        "__imagetype": imagetype,
        "__isregistered": "true",
        "__os_bit": "64",
        "__os_type": "Linux",
        "__support_kvm": "true",
        "__support_xen": "false",
        "__support_largememory": "false",
        "__support_diskintensive": "false",
        "__support_highperformance": "false",
        "__system_support_market": false,
        "__support_arm": "false",
        "__sequence_num": "0",
        "__lazyloading": "true",
        "checksum": "d41d8cd98f00b204e9800998ecf8427e",
        "container_format": "bare",
        "disk_format": "zvhd2",
        "enterprise_project_id": "0",
        "file": format!("/v2/images/{id}/file"),
        "self": format!("/v2/images/{id}"),
        "schema": "/v2/schemas/image",
        "protected": imagetype == "gold",
        "virtual_env_type": "FusionCompute",
        "virtual_size": 0,
        "hw_firmware_type": "bios",
        "hw_vif_multiqueue_enabled": "true",
        "max_ram": "",
    })
}

fn render_gold(g: &Gold) -> Value {
    let id = gold_id(g);
    let mut v = base_image(&id, g.name, "active", "localcloud", "public", "gold");
    let at = iso(1_704_067_200_000);
    let extra = json!({
        "__os_version": g.os_version,
        "__platform": g.platform,
        "__description": format!("{}: boots the local cloud's sandbox root filesystem", g.name),
        "__image_source_type": "uds",
        "__image_size": "1073741824",
        "__originalimagename": "",
        "__backup_id": "",
        "__data_origin": "",
        "min_disk": g.min_disk,
        "min_ram": 0,
        "size": 0,
        "tags": [],
        "created_at": at,
        "updated_at": at,
        "active_at": at,
    });
    merge(&mut v, extra);
    v
}

fn merge(v: &mut Value, extra: Value) {
    if let (Value::Object(a), Value::Object(b)) = (v, extra) {
        a.extend(b);
    }
}

pub(crate) fn render_private(ctx: &Ctx, i: &Image) -> Value {
    let mut v = base_image(
        &i.id,
        &i.name,
        &i.status,
        &ctx.world.project_id,
        "private",
        "private",
    );
    let mut tags: Vec<String> = i.tags.iter().map(|(k, val)| format!("{k}={val}")).collect();
    tags.sort();
    let shared = !i.members.is_empty();
    let extra = json!({
        "__os_version": i.os_version,
        "__platform": i.platform,
        "__description": i.description,
        "__image_source_type": "uds",
        "__image_size": i.size_bytes.to_string(),
        "__originalimagename": i.source_image,
        "__backup_id": "",
        "__data_origin": format!("instance,{}", i.source_server),
        "__root_origin": "instance",
        "min_disk": i.min_disk,
        "min_ram": i.min_ram,
        "size": 0,
        "tags": tags,
        "created_at": iso(i.created),
        "updated_at": iso(i.updated),
        "active_at": if i.status == "active" { iso(i.done_at) } else { String::new() },
        "visibility": if shared { "shared" } else { "private" },
    });
    merge(&mut v, extra);
    v
}

/// An image by id, rendered, among gold and private ones.
pub(crate) fn find_image(ctx: &Ctx, id: &str) -> Option<Value> {
    if let Some(g) = GOLD.iter().find(|g| gold_id(g) == id) {
        return Some(render_gold(g));
    }
    ctx.world.images.get(id).map(|i| render_private(ctx, i))
}

static CREATE_IMAGE: Shape = Shape::Obj(&[
    ("data_images", Shape::Any),
    ("description", Shape::Any),
    ("enterprise_project_id", Shape::Any),
    (
        "image_tags",
        Shape::List(&Shape::Obj(&[("key", Shape::Any), ("value", Shape::Any)])),
    ),
    ("instance_id", Shape::Any),
    ("name", Shape::Any),
    ("tags", Shape::Any),
    ("max_ram", Shape::Any),
    ("min_ram", Shape::Any),
    ("os_version", Shape::Any),
    ("image_url", Shape::Any),
    ("min_disk", Shape::Any),
    ("is_config", Shape::Any),
    ("cmk_id", Shape::Any),
    ("type", Shape::Any),
    ("is_quick_import", Shape::Any),
    ("architecture", Shape::Any),
    ("volume_id", Shape::Any),
    ("hw_firmware_type", Shape::Any),
]);

fn valid_image_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=128).contains(&n)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '))
}

fn parse_tags(ctx: &Ctx, v: Option<&Value>, path: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for (i, t) in v
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let k = ctx
            .str_field(t, &format!("{path}[{i}]."), "key")?
            .to_string();
        let val = ctx
            .opt_str(t, &format!("{path}[{i}]."), "value")?
            .unwrap_or("")
            .to_string();
        if k.chars().count() > 128 || val.chars().count() > 255 {
            return Err(ctx.err(
                400,
                format!("`{path}[{i}]`: key at most 128 characters, value at most 255"),
            ));
        }
        out.push((k, val));
    }
    Ok(out)
}

pub fn create_image(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&CREATE_IMAGE)?;
    let b = ctx.body;
    let name = ctx.str_field(b, "", "name")?.to_string();
    if !valid_image_name(&name) {
        return Err(ctx.err(
            400,
            format!(
                "image name `{name}` is invalid: use 1-128 letters, digits, spaces, `-`, `_` or `.`"
            ),
        ));
    }
    if let Some(t) = ctx.opt_str(b, "", "type")? {
        if t != "ECS" {
            return Err(ctx.err(400, format!("image type `{t}` is not offered by the local cloud: use `ECS` (a system disk image)")));
        }
    }
    let Some(server_id) = ctx.opt_str(b, "", "instance_id")?.map(str::to_string) else {
        return Err(ctx.err(
            400,
            "`instance_id` is required: the local cloud makes images from servers only",
        ));
    };
    let description = ctx.opt_str(b, "", "description")?.unwrap_or("").to_string();
    if description.chars().count() > 1024 || description.contains(['<', '>', '\r', '\n']) {
        return Err(ctx.err(
            400,
            "`description` must be at most 1024 characters without `<`, `>` or line breaks",
        ));
    }
    if b.get("image_tags").is_some() && b.get("tags").is_some() {
        return Err(ctx.err(
            400,
            "`image_tags` and `tags` cannot both be given: use `image_tags`",
        ));
    }
    let mut tags = parse_tags(ctx, b.get("image_tags"), "image_tags")?;
    for t in b
        .get("tags")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let t = t.as_str().unwrap_or("");
        let (k, v) = t.split_once('.').unwrap_or((t, ""));
        tags.push((k.to_string(), v.to_string()));
    }
    let Some(server) = ctx.world.servers.get(&server_id) else {
        return Err(ctx.err_code(
            400,
            "IMG.0003",
            format!("server `{server_id}` (`instance_id`) does not exist"),
        ));
    };
    if server.transition.is_some() || !(server.status == "SHUTOFF" || server.status == "ACTIVE") {
        return Err(ctx.err_code(
            400,
            "IMG.0004",
            format!(
                "server `{server_id}` is `{}`: stop it before making an image",
                server.status
            ),
        ));
    }
    let source_image = server.image_id.clone();
    let min_disk = server.root_volume_size;
    let (os_version, platform) = match find_image(ctx, &source_image) {
        Some(src) => (
            src["__os_version"]
                .as_str()
                .unwrap_or("Other Linux(64 bit)")
                .to_string(),
            src["__platform"].as_str().unwrap_or("Other").to_string(),
        ),
        None => ("Other Linux(64 bit)".to_string(), "Other".to_string()),
    };
    let min_ram = b.get("min_ram").and_then(Value::as_u64).unwrap_or(0) as u32;
    let now = ctx.now;
    let id = new_id();
    let run_at = now + ctx.latency.job_queue.as_millis() as u64;
    let done_at = run_at + draw(ctx.latency.image_create);
    let mut fail = match &ctx.fault {
        Some(FaultKind::JobFail { fail_reason }) => {
            Some(("IMG.0010".to_string(), fail_reason.clone()))
        }
        _ => None,
    };
    if fail.is_none() {
        if let Err(e) = ctx.backend.capture(&server_id, &id) {
            fail = Some(("IMG.0010".to_string(), e.0));
        }
    }
    let image = Image {
        id: id.clone(),
        name: name.clone(),
        description,
        status: "queued".into(),
        saving_at: run_at,
        done_at,
        final_status: if fail.is_some() {
            "killed".into()
        } else {
            "active".into()
        },
        source_server: server_id,
        source_image,
        min_disk,
        min_ram,
        size_bytes: 0,
        tags,
        members: Vec::new(),
        os_version,
        platform,
        created: now,
        updated: now,
    };
    ctx.world.images.insert(id.clone(), image);
    let job = Job {
        id: new_id(),
        service: "ims".into(),
        job_type: "createImageByInstance".into(),
        begin: now,
        run_at,
        done_at,
        fail,
        entities: JobEntities::Image {
            image_id: id,
            image_name: name,
        },
    };
    let job_id = job.id.clone();
    ctx.world.jobs.insert(job_id.clone(), job);
    Reply::ok(json!({"job_id": job_id}))
}

pub fn show_job(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param(0).to_string();
    let now = ctx.now;
    let Some(j) = ctx.world.jobs.get(&id).filter(|j| j.service == "ims") else {
        return Err(ctx.err_code(404, "IMG.0130", format!("job `{id}` does not exist")));
    };
    let mut status = j.status(now);
    let mut job_fail = j.fail.clone();
    // A capture the backend has not finished keeps the job running; a failed one fails it.
    if status == "SUCCESS" {
        if let JobEntities::Image { image_id, .. } = &j.entities {
            match ctx.world.images.get(image_id).map(|i| i.status.as_str()) {
                Some("queued" | "saving") => status = "RUNNING",
                Some("killed") => {
                    status = "FAIL";
                    job_fail = Some((
                        "IMG.0010".to_string(),
                        "capturing the server's disk failed".to_string(),
                    ));
                }
                _ => {}
            }
        }
    }
    let (code, reason) = match (&job_fail, status) {
        (Some((c, r)), "FAIL") => (Some(c.clone()), Some(r.clone())),
        _ => (None, None),
    };
    // Rises linearly from the job's start to its planned end; 100 only once it succeeded, so
    // a capture still running past the plan holds at 99 rather than claiming done.
    let percent = if status == "SUCCESS" {
        100
    } else if now < j.run_at {
        0
    } else {
        ((now - j.run_at) * 100 / (j.done_at - j.run_at).max(1)).min(99) as i64
    };
    let entities = match &j.entities {
        JobEntities::Image {
            image_id,
            image_name,
        } => json!({
            "image_id": image_id,
            "image_name": image_name,
            "current_task": if status == "RUNNING" { "CREATE_IMAGE" } else { "" },
            "process_percent": percent as f64 / 100.0,
            "results": [],
            "sub_jobs_result": [],
            "sub_jobs_list": [],
        }),
        JobEntities::Members { images } => json!({
            "results": images.iter().map(|i| json!({"image_id": i, "status": if status == "SUCCESS" { "SUCCESS" } else { status }})).collect::<Vec<_>>(),
            "sub_jobs_result": [],
            "sub_jobs_list": [],
        }),
        JobEntities::Servers(_) => json!({}),
    };
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

pub fn list_images(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let mut list: Vec<Value> = GOLD.iter().map(render_gold).collect();
    list.extend(ctx.world.images.values().map(|i| render_private(ctx, i)));
    for key in [
        "id",
        "name",
        "status",
        "__imagetype",
        "visibility",
        "owner",
        "__os_type",
        "__platform",
        "disk_format",
        "container_format",
        "virtual_env_type",
    ] {
        if let Some(want) = ctx.q(key) {
            if key == "__imagetype" && !["gold", "private", "shared", "market"].contains(&want) {
                return Err(ctx.err(
                    400,
                    format!(
                        "`__imagetype` `{want}` is invalid: use gold, private, shared or market"
                    ),
                ));
            }
            if key == "__imagetype" && want == "shared" {
                list.retain(|i| i["visibility"] == "shared");
                continue;
            }
            list.retain(|i| i[key].as_str() == Some(want));
        }
    }
    if let Some(tag) = ctx.q("tag") {
        list.retain(|i| {
            i["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|x| x.as_str() == Some(tag)))
        });
    }
    if let Some(d) = ctx.q_num("min_disk")? {
        list.retain(|i| i["min_disk"].as_u64().unwrap_or(0) as usize >= d);
    }
    let sort_key = ctx.q("sort_key").unwrap_or("created_at");
    if ![
        "created_at",
        "name",
        "container_format",
        "disk_format",
        "status",
        "id",
        "size",
        "updated_at",
    ]
    .contains(&sort_key)
    {
        return Err(ctx.err(400, format!("`sort_key` `{sort_key}` is invalid: use created_at, updated_at, name, id, status, size, container_format or disk_format")));
    }
    let desc = match ctx.q("sort_dir").unwrap_or("desc") {
        "desc" => true,
        "asc" => false,
        other => {
            return Err(ctx.err(
                400,
                format!("`sort_dir` `{other}` is invalid: use asc or desc"),
            ));
        }
    };
    list.sort_by(|a, b| {
        let ord = match (&a[sort_key], &b[sort_key]) {
            (Value::Number(x), Value::Number(y)) => x
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&y.as_f64().unwrap_or(0.0)),
            (x, y) => x.as_str().unwrap_or("").cmp(y.as_str().unwrap_or("")),
        };
        let ord = ord.then_with(|| a["id"].as_str().cmp(&b["id"].as_str()));
        if desc { ord.reverse() } else { ord }
    });
    ctx.after_marker(&mut list, |i| i["id"].as_str().unwrap_or(""), "an image")?;
    let limit = ctx.q_num("limit")?.unwrap_or(500);
    if limit > 1000 {
        return Err(ctx.err(400, "`limit` must be at most 1000"));
    }
    list.truncate(limit);
    Reply::ok(json!({"images": list}))
}

pub fn glance_list_images(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let listed = list_images(ctx)?;
    let images = listed
        .body
        .map(|mut b| b["images"].take())
        .unwrap_or(Value::Null);
    Reply::ok(json!({"images": images, "schema": "/v2/schemas/images", "first": "/v2/images"}))
}

static UPDATE_IMAGE: Shape = Shape::List(&Shape::Obj(&[
    ("op", Shape::Any),
    ("path", Shape::Any),
    ("value", Shape::Any),
]));

/// JSON-patch of the few fields a private image lets its owner change.
pub fn update_image(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&UPDATE_IMAGE)?;
    let ops = ctx.body.as_array().cloned().unwrap_or_default();
    if ops.is_empty() {
        return Err(ctx.err(400, "the body must list at least one change"));
    }
    let mut changes = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let kind = ctx.str_field(op, &format!("[{i}]."), "op")?;
        let path = ctx.str_field(op, &format!("[{i}]."), "path")?;
        if kind != "replace" && kind != "add" {
            return Err(ctx.err(
                400,
                format!("`[{i}].op` `{kind}` is not supported: use replace"),
            ));
        }
        let value = op.get("value").cloned().unwrap_or(Value::Null);
        let as_text = value
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| value.to_string());
        match path {
            "/name" if valid_image_name(&as_text) => {}
            "/__description" if as_text.chars().count() <= 1024 => {}
            "/min_disk" | "/min_ram" if as_text.parse::<u32>().is_ok() => {}
            "/name" | "/__description" | "/min_disk" | "/min_ram" => {
                return Err(ctx.err(400, format!("`[{i}].value` `{as_text}` is invalid for `{path}`")));
            }
            other => return Err(ctx.err(400, format!("`[{i}].path` `{other}` cannot be changed: use /name, /__description, /min_disk or /min_ram"))),
        }
        changes.push((path.to_string(), as_text));
    }
    let now = ctx.now;
    let img = private_image(ctx)?;
    for (path, value) in changes {
        match path.as_str() {
            "/name" => img.name = value,
            "/__description" => img.description = value,
            "/min_disk" => img.min_disk = value.parse().unwrap_or(img.min_disk),
            _ => img.min_ram = value.parse().unwrap_or(img.min_ram),
        }
    }
    img.updated = now;
    let img = img.clone();
    Reply::ok(render_private(ctx, &img))
}

fn glance_view(mut v: Value) -> Value {
    // Glance has no `self`-wrapped form; it returns the image object itself.
    if let Value::Object(m) = &mut v {
        m.remove("__support_arm");
    }
    v
}

pub fn show_image(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param(0).to_string();
    match find_image(ctx, &id) {
        Some(v) => Reply::ok(glance_view(v)),
        None => Err(ctx.err(404, format!("image `{id}` does not exist"))),
    }
}

pub fn delete_image(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param(0).to_string();
    if GOLD.iter().any(|g| gold_id(g) == id) {
        return Err(ctx.err(
            403,
            format!("image `{id}` is a public image and cannot be deleted"),
        ));
    }
    let Some(img) = ctx.world.images.get(&id) else {
        return Err(ctx.err(404, format!("image `{id}` does not exist")));
    };
    if img.status == "queued" || img.status == "saving" {
        return Err(ctx.err(
            409,
            format!(
                "image `{id}` is `{}`: wait until it is active or killed",
                img.status
            ),
        ));
    }
    ctx.world.images.remove(&id);
    let mut live: Vec<String> = ctx.world.images.keys().cloned().collect();
    live.extend(ctx.world.servers.values().map(|s| s.image_id.clone()));
    ctx.backend.images_deleted(&live);
    Reply::empty(204)
}

fn private_image<'a>(ctx: &'a mut Ctx) -> Result<&'a mut Image, ApiError> {
    let id = ctx.param(0).to_string();
    if !ctx.world.images.contains_key(&id) {
        return Err(ctx.err(
            404,
            format!("image `{id}` does not exist or is not a private image"),
        ));
    }
    ctx.world.images.get_mut(&id).ok_or_else(|| ApiError {
        status: 500,
        body: json!({}),
    })
}

pub fn list_tags(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let img = private_image(ctx)?;
    let tags: Vec<Value> = img
        .tags
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    Reply::ok(json!({"tags": tags}))
}

static ADD_TAG: Shape = Shape::Obj(&[(
    "tag",
    Shape::Obj(&[("key", Shape::Any), ("value", Shape::Any)]),
)]);
static BATCH_TAGS: Shape = Shape::Obj(&[
    ("action", Shape::Any),
    (
        "tags",
        Shape::List(&Shape::Obj(&[("key", Shape::Any), ("value", Shape::Any)])),
    ),
]);

fn upsert(tags: &mut Vec<(String, String)>, k: String, v: String) {
    match tags.iter_mut().find(|(kk, _)| *kk == k) {
        Some(t) => t.1 = v,
        None => tags.push((k, v)),
    }
}

pub fn add_tag(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&ADD_TAG)?;
    let tags = parse_tags(ctx, Some(&json!([ctx.body["tag"].clone()])), "tag")?;
    let now = ctx.now;
    let img = private_image(ctx)?;
    if img.tags.len() >= 10 && !img.tags.iter().any(|(k, _)| *k == tags[0].0) {
        return Err(ctx.err(400, "an image has at most 10 tags"));
    }
    for (k, v) in tags {
        upsert(&mut img.tags, k, v);
    }
    img.updated = now;
    Reply::empty(204)
}

pub fn batch_tags(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&BATCH_TAGS)?;
    let action = ctx.str_field(ctx.body, "", "action")?.to_string();
    let tags = parse_tags(ctx, ctx.body.get("tags"), "tags")?;
    if action != "create" && action != "delete" {
        return Err(ctx.err(
            400,
            format!("`action` `{action}` is invalid: use create or delete"),
        ));
    }
    let now = ctx.now;
    let img = private_image(ctx)?;
    for (k, v) in tags {
        if action == "create" {
            upsert(&mut img.tags, k, v);
        } else {
            img.tags.retain(|(kk, _)| *kk != k);
        }
    }
    img.updated = now;
    Reply::empty(204)
}

pub fn delete_tag(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let key = ctx.param(1).to_string();
    let img = private_image(ctx)?;
    let before = img.tags.len();
    img.tags.retain(|(k, _)| *k != key);
    if img.tags.len() == before {
        return Err(ctx.err(404, format!("tag `{key}` does not exist on this image")));
    }
    Reply::empty(204)
}

static ADD_MEMBERS: Shape = Shape::Obj(&[
    ("images", Shape::Any),
    ("projects", Shape::Any),
    ("domains", Shape::Any),
    ("organizations", Shape::Any),
]);

/// The `images` and `projects` of a batch member call, each image a private one of the cloud.
fn batch_members(ctx: &Ctx) -> Result<(Vec<String>, Vec<String>), ApiError> {
    ctx.check(&ADD_MEMBERS)?;
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let images = strings(&ctx.body["images"]);
    let projects = strings(&ctx.body["projects"]);
    if images.is_empty() || projects.is_empty() {
        return Err(ctx.err(
            400,
            "`images` and `projects` must each list at least one id",
        ));
    }
    for i in &images {
        if !ctx.world.images.contains_key(i) {
            return Err(ctx.err(
                404,
                format!("image `{i}` does not exist or is not a private image"),
            ));
        }
    }
    Ok((images, projects))
}

/// Answers a batch member call with the IMS job that reports it.
fn members_job(ctx: &mut Ctx, job_type: &str, images: Vec<String>) -> Result<Reply, ApiError> {
    let now = ctx.now;
    let run_at = now + ctx.latency.job_queue.as_millis() as u64;
    let job = Job {
        id: new_id(),
        service: "ims".into(),
        job_type: job_type.into(),
        begin: now,
        run_at,
        done_at: run_at,
        fail: None,
        entities: JobEntities::Members { images },
    };
    let id = job.id.clone();
    ctx.world.jobs.insert(id.clone(), job);
    Reply::ok(json!({"job_id": id}))
}

pub fn add_members(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let (images, projects) = batch_members(ctx)?;
    let now = ctx.now;
    for i in &images {
        if let Some(img) = ctx.world.images.get_mut(i) {
            for p in &projects {
                if !img.members.iter().any(|m| &m.project_id == p) {
                    img.members.push(Member {
                        project_id: p.clone(),
                        status: "pending".into(),
                        created: now,
                        updated: now,
                    });
                }
            }
        }
    }
    members_job(ctx, "batchAddMembers", images)
}

/// `DELETE /v1/cloudimages/members`: the same body as adding; a project that is not a member
/// of an image is left as it is.
pub fn delete_members(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let (images, projects) = batch_members(ctx)?;
    for i in &images {
        if let Some(img) = ctx.world.images.get_mut(i) {
            img.members.retain(|m| !projects.contains(&m.project_id));
        }
    }
    members_job(ctx, "batchDeleteMembers", images)
}

fn render_member(image_id: &str, m: &Member) -> Value {
    json!({
        "member_id": m.project_id, "image_id": image_id, "status": m.status,
        "created_at": iso(m.created), "updated_at": iso(m.updated),
        "schema": "/v2/schemas/member", "member_type": "project", "urn": "",
    })
}

pub fn list_members(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let img = private_image(ctx)?;
    let id = img.id.clone();
    let members: Vec<Value> = img.members.iter().map(|m| render_member(&id, m)).collect();
    Reply::ok(json!({"members": members, "schema": "/v2/schemas/members"}))
}

pub fn glance_list_members(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    list_members(ctx)
}

static UPDATE_MEMBER: Shape = Shape::Obj(&[("status", Shape::Any), ("vault_id", Shape::Any)]);

pub fn glance_update_member(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&UPDATE_MEMBER)?;
    let status = ctx.str_field(ctx.body, "", "status")?.to_string();
    if !["accepted", "rejected", "pending"].contains(&status.as_str()) {
        return Err(ctx.err(
            400,
            format!("`status` `{status}` is invalid: use accepted, rejected or pending"),
        ));
    }
    let member = ctx.param(1).to_string();
    let now = ctx.now;
    let img = private_image(ctx)?;
    let id = img.id.clone();
    let Some(m) = img.members.iter_mut().find(|m| m.project_id == member) else {
        return Err(ctx.err(
            404,
            format!("project `{member}` is not a member of image `{id}`"),
        ));
    };
    m.status = status;
    m.updated = now;
    let out = render_member(&id, m);
    Reply::ok(out)
}

static GLANCE_ADD_MEMBER: Shape = Shape::Obj(&[("member", Shape::Any)]);

/// Glance `POST /v2/images/{id}/members` (what the plugin's v0.4.0 sends for `image_members`).
pub fn glance_add_member(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&GLANCE_ADD_MEMBER)?;
    let member = ctx.str_field(ctx.body, "", "member")?.to_string();
    let now = ctx.now;
    let img = private_image(ctx)?;
    let id = img.id.clone();
    if img.members.iter().any(|m| m.project_id == member) {
        return Err(ctx.err(
            409,
            format!("project `{member}` is already a member of image `{id}`"),
        ));
    }
    let m = Member {
        project_id: member,
        status: "pending".into(),
        created: now,
        updated: now,
    };
    let out = render_member(&id, &m);
    img.members.push(m);
    Reply::ok(out)
}

fn member_index(ctx: &mut Ctx) -> Result<(String, usize), ApiError> {
    let member = ctx.param(1).to_string();
    let img = private_image(ctx)?;
    let id = img.id.clone();
    match img.members.iter().position(|m| m.project_id == member) {
        Some(i) => Ok((id, i)),
        None => Err(ctx.err(
            404,
            format!("project `{member}` is not a member of image `{id}`"),
        )),
    }
}

pub fn glance_show_member(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let (id, i) = member_index(ctx)?;
    let img = private_image(ctx)?;
    let out = render_member(&id, &img.members[i]);
    Reply::ok(out)
}

pub fn glance_delete_member(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let (_, i) = member_index(ctx)?;
    private_image(ctx)?.members.remove(i);
    Reply::empty(204)
}

/// Glance `PATCH /v2/images/{id}` (the plugin's `image_min_disk`): the changes `UpdateImage`
/// allows, answered with the Glance view of the image.
pub fn glance_update_image(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    update_image(ctx)?;
    show_image(ctx)
}

/// The operating systems an image can declare, by platform (`ListOsVersions`): those of the
/// gold images, which are what the local cloud boots.
pub fn list_os_versions(_ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let mut platforms: std::collections::BTreeMap<&str, Vec<Value>> = Default::default();
    for g in GOLD {
        let list = platforms.entry(g.platform).or_default();
        let info = json!({
            "platform": g.platform,
            "os_version_key": g.os_version,
            "os_version": g.os_version,
            "os_bit": 64,
            "os_type": "Linux",
        });
        if !list.contains(&info) {
            list.push(info);
        }
    }
    let body: Vec<Value> = platforms
        .into_iter()
        .map(|(p, v)| json!({"platform": p, "version_list": v}))
        .collect();
    Reply::ok(Value::Array(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gold_ids_are_stable() {
        assert_eq!(gold_id(&GOLD[0]), gold_id(&GOLD[0]));
        assert_ne!(gold_id(&GOLD[0]), gold_id(&GOLD[1]));
        assert!(GOLD.iter().all(|g| g.name.contains("local sandbox rootfs")));
    }
}
