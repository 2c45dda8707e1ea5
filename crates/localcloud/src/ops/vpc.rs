//! VPC operations (v1 and the v3 forms the SDK offers) and EIPs, which live on the VPC host:
//! VPCs (CREATING → OK), subnets (UNKNOWN → ACTIVE), security groups and rules, public IPs
//! (created DOWN, ACTIVE once bound).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{ApiError, Ctx, Reply, Shape};
use crate::world::{Eip, SecurityGroup, SgRule, Subnet, Transition, Vpc, iso, new_id, parse_cidr};

/// An object body whose listed fields may each hold anything (their values are checked by the
/// operation): `fields! { "name", "cidr" }` (braces, so the list keeps its few lines).
macro_rules! fields {
    ($($name:literal),* $(,)?) => {
        Shape::Obj(&[$(($name, Shape::Any)),*])
    };
}

fn at_created(ctx: &Ctx) -> u64 {
    ctx.now + ctx.latency.network_create.as_millis() as u64
}

fn render_vpc(ctx: &Ctx, v: &Vpc) -> Value {
    json!({
        "id": v.id, "name": v.name, "cidr": v.cidr, "description": v.description, "routes": [],
        "status": v.status, "enterprise_project_id": "0", "tenant_id": ctx.world.project_id,
        "created_at": iso(v.created), "updated_at": iso(v.created),
    })
}

static CREATE_VPC: Shape = Shape::Obj(&[(
    "vpc",
    fields! {
        "cidr", "name", "description", "enterprise_project_id", "tags",
        "block_service_endpoint_states", "enable_network_address_usage_metrics",
    },
)]);

/// A new VPC from the `vpc` object of a create body (v1 and v3 take the same fields).
fn new_vpc(ctx: &Ctx) -> Result<Vpc, ApiError> {
    let b = &ctx.body["vpc"];
    if !b.is_object() {
        return Err(ctx.err(400, "`vpc` is required"));
    }
    let cidr = ctx
        .opt_str(b, "vpc.", "cidr")?
        .unwrap_or("192.168.0.0/16")
        .to_string();
    if parse_cidr(&cidr).is_none_or(|(_, p)| !(8..=28).contains(&p)) {
        return Err(ctx.err(
            400,
            format!(
                "`vpc.cidr` `{cidr}` is invalid: use a private IPv4 CIDR with a prefix of 8-28"
            ),
        ));
    }
    let name = ctx.opt_str(b, "vpc.", "name")?.unwrap_or("").to_string();
    Ok(Vpc {
        id: new_id(),
        name,
        cidr,
        description: ctx
            .opt_str(b, "vpc.", "description")?
            .unwrap_or("")
            .to_string(),
        status: "CREATING".into(),
        transition: Some(Transition {
            at: at_created(ctx),
            status: "OK".into(),
            remove: false,
        }),
        created: ctx.now,
        builtin: false,
    })
}

pub fn create_vpc(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&CREATE_VPC)?;
    let v = new_vpc(ctx)?;
    let out = render_vpc(ctx, &v);
    ctx.world.vpcs.insert(v.id.clone(), v);
    Reply::ok(json!({"vpc": out}))
}

static CREATE_VPC_V3: Shape = Shape::Obj(&[
    (
        "vpc",
        fields! { "cidr", "name", "description", "enterprise_project_id", "tags" },
    ),
    ("dry_run", Shape::Any),
]);

/// `CreateVpc` of VPC v3; `dry_run` checks the body and creates nothing, as the API does.
pub fn create_vpc_v3(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&CREATE_VPC_V3)?;
    let v = new_vpc(ctx)?;
    if ctx.body.get("dry_run").and_then(Value::as_bool) == Some(true) {
        return Reply::with(
            202,
            json!({"request_id": ctx.request_id, "error_code": "DryRunOperation", "error_msg": "the request would succeed"}),
        );
    }
    let out = render_vpc_v3(ctx, &v);
    ctx.world.vpcs.insert(v.id.clone(), v);
    Reply::with(201, json!({"request_id": ctx.request_id, "vpc": out}))
}

/// Pages a v3 listing as the v3 APIs do: the items after `marker`, at most `limit` (default and
/// most 2000), and the `page_info` that says where the next page starts.
fn v3_page<T>(
    ctx: &Ctx,
    list: &mut Vec<T>,
    id_of: impl Fn(&T) -> &str,
    what: &str,
) -> Result<Value, ApiError> {
    ctx.after_marker(list, &id_of, what)?;
    let limit = ctx.q_num("limit")?.unwrap_or(2000).clamp(1, 2000);
    let more = list.len() > limit;
    list.truncate(limit);
    let mut page = json!({"current_count": list.len()});
    if let Some(m) = ctx.q("marker") {
        page["previous_marker"] = json!(m);
    }
    if more {
        page["next_marker"] = json!(list.last().map(&id_of));
    }
    Ok(page)
}

/// `ListVpcs` of VPC v3: filters `id` and `name` (each may repeat) and `cidr`, paged by `limit`
/// (default 2000) and `marker` with `page_info`.
pub fn list_vpcs_v3(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let (ids, names) = (ctx.q_all("id"), ctx.q_all("name"));
    let mut list: Vec<&Vpc> = ctx
        .world
        .vpcs
        .values()
        .filter(|v| ids.is_empty() || ids.contains(&v.id.as_str()))
        .filter(|v| names.is_empty() || names.contains(&v.name.as_str()))
        .filter(|v| ctx.q("cidr").is_none_or(|c| c == v.cidr))
        .collect();
    let page = v3_page(ctx, &mut list, |v| v.id.as_str(), "a VPC")?;
    let vpcs: Vec<Value> = list.iter().map(|v| render_vpc_v3(ctx, v)).collect();
    Reply::ok(json!({"request_id": ctx.request_id, "vpcs": vpcs, "page_info": page}))
}

pub fn list_vpcs(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let list: Vec<Value> = ctx
        .world
        .vpcs
        .values()
        .filter(|v| ctx.q("id").is_none_or(|id| id == v.id))
        .map(|v| render_vpc(ctx, v))
        .collect();
    Reply::ok(json!({"vpcs": list}))
}

/// The `what` of `id` in `all`, or a 404 naming it.
fn found<'a, T>(
    ctx: &Ctx,
    all: &'a BTreeMap<String, T>,
    what: &str,
    id: &str,
) -> Result<&'a T, ApiError> {
    all.get(id)
        .ok_or_else(|| ctx.err(404, format!("{what} `{id}` does not exist")))
}

fn vpc_or_404<'a>(ctx: &'a Ctx, id: &str) -> Result<&'a Vpc, ApiError> {
    found(ctx, &ctx.world.vpcs, "VPC", id)
}

pub fn show_vpc(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let v = vpc_or_404(ctx, ctx.param(0))?;
    Reply::ok(json!({"vpc": render_vpc(ctx, v)}))
}

fn render_vpc_v3(ctx: &Ctx, v: &Vpc) -> Value {
    json!({
        "id": v.id, "name": v.name, "description": v.description, "cidr": v.cidr, "extend_cidrs": [],
        "status": if v.status == "OK" { "ACTIVE" } else { "PENDING" }, "project_id": ctx.world.project_id,
        "enterprise_project_id": "0", "tags": [], "cloud_resources": [],
        "created_at": iso(v.created), "updated_at": iso(v.created),
    })
}

pub fn show_vpc_v3(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let v = vpc_or_404(ctx, ctx.param(0))?;
    Reply::ok(json!({"request_id": ctx.request_id, "vpc": render_vpc_v3(ctx, v)}))
}

pub fn delete_vpc(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param(0).to_string();
    vpc_or_404(ctx, &id)?;
    if ctx.world.subnets.values().any(|s| s.vpc_id == id) {
        return Err(ctx.err(
            409,
            format!("VPC `{id}` still has subnets: delete them first"),
        ));
    }
    if ctx
        .world
        .security_groups
        .values()
        .any(|g| g.vpc_id == id && !g.builtin)
    {
        return Err(ctx.err(409, format!("VPC `{id}` still has security groups")));
    }
    ctx.world.vpcs.remove(&id);
    ctx.world.security_groups.retain(|_, g| g.vpc_id != id);
    let groups: Vec<String> = ctx.world.security_groups.keys().cloned().collect();
    ctx.world
        .rules
        .retain(|_, r| groups.contains(&r.security_group_id));
    Reply::empty(204)
}

fn render_subnet(ctx: &Ctx, s: &Subnet) -> Value {
    json!({
        "id": s.id, "name": s.name, "description": "", "cidr": s.cidr, "gateway_ip": s.gateway_ip,
        "ipv6_enable": false, "dhcp_enable": true,
        "primary_dns": s.dns_list.first(), "secondary_dns": s.dns_list.get(1), "dnsList": s.dns_list,
        "availability_zone": s.availability_zone, "vpc_id": s.vpc_id, "status": s.status,
        "neutron_network_id": s.id, "neutron_subnet_id": s.neutron_subnet_id,
        "extra_dhcp_opts": [], "scope": "center", "tenant_id": ctx.world.project_id,
        "created_at": iso(s.created), "updated_at": iso(s.created),
    })
}

static CREATE_SUBNET: Shape = Shape::Obj(&[(
    "subnet",
    fields! {
        "name", "description", "cidr", "vpc_id", "gateway_ip", "ipv6_enable", "dhcp_enable",
        "primary_dns", "secondary_dns", "dnsList", "availability_zone", "extra_dhcp_opts", "tags",
        "enable_network_address_usage_metrics",
    },
)]);

pub fn create_subnet(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&CREATE_SUBNET)?;
    let b = &ctx.body["subnet"];
    let name = ctx.str_field(b, "subnet.", "name")?.to_string();
    let cidr = ctx.str_field(b, "subnet.", "cidr")?.to_string();
    let vpc_id = ctx.str_field(b, "subnet.", "vpc_id")?.to_string();
    let gateway = ctx.str_field(b, "subnet.", "gateway_ip")?.to_string();
    let vpc = vpc_or_404(ctx, &vpc_id)?;
    let (net, prefix) = parse_cidr(&cidr)
        .ok_or_else(|| ctx.err(400, format!("`subnet.cidr` `{cidr}` is not an IPv4 CIDR")))?;
    let (vnet, vprefix) =
        parse_cidr(&vpc.cidr).ok_or_else(|| ctx.err(500, "the VPC's CIDR is invalid"))?;
    let vmask = if vprefix == 0 {
        0
    } else {
        u32::MAX << (32 - vprefix)
    };
    if prefix < vprefix || prefix > 29 || (u32::from(net) & vmask) != u32::from(vnet) {
        return Err(ctx.err(
            400,
            format!(
                "`subnet.cidr` `{cidr}` is not inside the VPC's `{}` (prefix up to /29)",
                vpc.cidr
            ),
        ));
    }
    let gw: std::net::Ipv4Addr = gateway.parse().map_err(|_| {
        ctx.err(
            400,
            format!("`subnet.gateway_ip` `{gateway}` is not an IPv4 address"),
        )
    })?;
    let mask = u32::MAX << (32 - prefix);
    if u32::from(gw) & mask != u32::from(net) {
        return Err(ctx.err(
            400,
            format!("`subnet.gateway_ip` `{gateway}` is not inside `{cidr}`"),
        ));
    }
    if ctx
        .world
        .subnets
        .values()
        .any(|s| s.vpc_id == vpc_id && s.cidr == cidr)
    {
        return Err(ctx.err(
            409,
            format!("a subnet with CIDR `{cidr}` already exists in VPC `{vpc_id}`"),
        ));
    }
    let mut dns: Vec<String> = b
        .get("dnsList")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if dns.is_empty() {
        dns.extend(
            b.get("primary_dns")
                .and_then(Value::as_str)
                .map(str::to_string),
        );
        dns.extend(
            b.get("secondary_dns")
                .and_then(Value::as_str)
                .map(str::to_string),
        );
    }
    let az = ctx
        .opt_str(b, "subnet.", "availability_zone")?
        .unwrap_or("ru-moscow-1a")
        .to_string();
    let s = Subnet {
        id: new_id(),
        neutron_subnet_id: new_id(),
        name,
        cidr,
        gateway_ip: gateway,
        vpc_id,
        availability_zone: az,
        dns_list: dns,
        status: "UNKNOWN".into(),
        transition: Some(Transition {
            at: at_created(ctx),
            status: "ACTIVE".into(),
            remove: false,
        }),
        created: ctx.now,
        builtin: false,
        last_host: 1,
    };
    let out = render_subnet(ctx, &s);
    ctx.world.subnets.insert(s.id.clone(), s);
    Reply::ok(json!({"subnet": out}))
}

pub fn list_subnets(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let mut list: Vec<&Subnet> = ctx
        .world
        .subnets
        .values()
        .filter(|s| ctx.q("vpc_id").is_none_or(|v| v == s.vpc_id))
        .collect();
    list.sort_by_key(|s| (s.created, s.id.clone()));
    if let Some(marker) = ctx.q("marker") {
        if let Some(pos) = list.iter().position(|s| s.id == marker) {
            list.drain(..=pos);
        }
    }
    if let Some(l) = ctx.q_num("limit")? {
        list.truncate(l);
    }
    Reply::ok(json!({"subnets": list.iter().map(|s| render_subnet(ctx, s)).collect::<Vec<_>>()}))
}

pub fn show_subnet(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let s = found(ctx, &ctx.world.subnets, "subnet", ctx.param(0))?;
    Reply::ok(json!({"subnet": render_subnet(ctx, s)}))
}

pub fn delete_subnet(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let (vpc_id, id) = (ctx.param(0).to_string(), ctx.param(1).to_string());
    match ctx.world.subnets.get(&id) {
        Some(s) if s.vpc_id == vpc_id => {}
        _ => {
            return Err(ctx.err(
                404,
                format!("subnet `{id}` does not exist in VPC `{vpc_id}`"),
            ));
        }
    }
    if ctx.world.servers.values().any(|s| s.subnet_id == id) {
        return Err(ctx.err(409, format!("subnet `{id}` still has servers")));
    }
    ctx.world.subnets.remove(&id);
    Reply::empty(204)
}

fn render_rule_v1(r: &SgRule, tenant: &str) -> Value {
    json!({
        "id": r.id, "description": r.description, "security_group_id": r.security_group_id,
        "direction": r.direction, "ethertype": r.ethertype, "protocol": r.protocol,
        "port_range_min": r.port_range_min, "port_range_max": r.port_range_max,
        "remote_ip_prefix": r.remote_ip_prefix, "remote_group_id": r.remote_group_id,
        "remote_address_group_id": null, "tenant_id": tenant,
    })
}

fn render_rule_v3(r: &SgRule, project: &str) -> Value {
    json!({
        "id": r.id, "description": r.description, "security_group_id": r.security_group_id,
        "direction": r.direction, "protocol": r.protocol.clone().unwrap_or_default(), "ethertype": r.ethertype,
        "multiport": r.multiport.clone().unwrap_or_default(), "action": r.action, "priority": r.priority,
        "remote_group_id": r.remote_group_id.clone().unwrap_or_default(),
        "remote_ip_prefix": r.remote_ip_prefix.clone().unwrap_or_default(),
        "remote_address_group_id": "", "created_at": iso(r.created), "updated_at": iso(r.created),
        "project_id": project, "enabled": true,
    })
}

/// Rules in the order they were created (ids break ties).
fn sorted_rules<'a>(rules: impl Iterator<Item = &'a SgRule>) -> Vec<SgRule> {
    let mut v: Vec<SgRule> = rules.cloned().collect();
    v.sort_by_key(|r| (r.created, r.id.clone()));
    v
}

fn rules_of(ctx: &Ctx, sg: &str) -> Vec<SgRule> {
    sorted_rules(
        ctx.world
            .rules
            .values()
            .filter(|r| r.security_group_id == sg),
    )
}

pub fn list_sgs(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let pid = ctx.world.project_id.clone();
    let list: Vec<Value> = ctx
        .world
        .security_groups
        .values()
        .filter(|g| ctx.q("vpc_id").is_none_or(|v| v == g.vpc_id))
        .map(|g| render_sg_v1(ctx, g, &pid))
        .collect();
    Reply::ok(json!({"security_groups": list}))
}

fn sg_or_404<'a>(ctx: &'a Ctx, id: &str) -> Result<&'a SecurityGroup, ApiError> {
    found(ctx, &ctx.world.security_groups, "security group", id)
}

fn render_sg_v1(ctx: &Ctx, g: &SecurityGroup, tenant: &str) -> Value {
    let rules: Vec<Value> = rules_of(ctx, &g.id)
        .iter()
        .map(|r| render_rule_v1(r, tenant))
        .collect();
    json!({"id": g.id, "name": g.name, "description": g.description, "vpc_id": g.vpc_id, "enterprise_project_id": "0", "security_group_rules": rules})
}

pub fn show_sg(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let g = sg_or_404(ctx, ctx.param(0))?;
    Reply::ok(json!({"security_group": render_sg_v1(ctx, g, &ctx.world.project_id)}))
}

pub fn show_sg_v3(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let g = sg_or_404(ctx, ctx.param(0))?;
    let pid = ctx.world.project_id.clone();
    let rules: Vec<Value> = rules_of(ctx, &g.id)
        .iter()
        .map(|r| render_rule_v3(r, &pid))
        .collect();
    Reply::ok(json!({"request_id": ctx.request_id, "security_group": {
        "id": g.id, "name": g.name, "description": g.description, "project_id": pid,
        "created_at": iso(g.created), "updated_at": iso(g.created), "enterprise_project_id": "0", "tags": [],
        "security_group_rules": rules,
    }}))
}

static CREATE_SG_V1: Shape = Shape::Obj(&[(
    "security_group",
    fields! { "name", "vpc_id", "enterprise_project_id" },
)]);

static CREATE_SG_V3: Shape = Shape::Obj(&[
    ("dry_run", Shape::Any),
    (
        "security_group",
        fields! { "name", "description", "enterprise_project_id", "tags" },
    ),
]);

fn valid_sg_name(name: &str) -> bool {
    (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A new group with the rules the cloud gives every new group: all egress, and ingress from
/// members of the same group (which admits nobody from outside, so not SSH from this host).
fn new_sg(ctx: &Ctx, name: &str, description: &str, vpc_id: &str) -> (SecurityGroup, Vec<SgRule>) {
    let g = SecurityGroup {
        id: new_id(),
        name: name.to_string(),
        description: description.to_string(),
        vpc_id: vpc_id.to_string(),
        created: ctx.now,
        builtin: false,
    };
    let rules = [
        ("egress", "IPv4"),
        ("egress", "IPv6"),
        ("ingress", "IPv4"),
        ("ingress", "IPv6"),
    ]
    .into_iter()
    .map(|(direction, ethertype)| SgRule {
        id: new_id(),
        security_group_id: g.id.clone(),
        description: String::new(),
        direction: direction.into(),
        ethertype: ethertype.into(),
        protocol: None,
        port_range_min: None,
        port_range_max: None,
        multiport: None,
        remote_ip_prefix: None,
        remote_group_id: (direction == "ingress").then(|| g.id.clone()),
        action: "allow".into(),
        priority: 1,
        created: ctx.now,
    })
    .collect();
    (g, rules)
}

fn sg_name(ctx: &Ctx, r: &Value) -> Result<String, ApiError> {
    let name = ctx.str_field(r, "security_group.", "name")?;
    if !valid_sg_name(name) {
        return Err(ctx.err(
            400,
            format!(
                "`security_group.name` `{name}` is invalid: 1-64 letters, digits, `_`, `-` or `.`"
            ),
        ));
    }
    Ok(name.to_string())
}

pub fn create_sg(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&CREATE_SG_V1)?;
    let r = &ctx.body["security_group"];
    let name = sg_name(ctx, r)?;
    let vpc_id = match ctx.opt_str(r, "security_group.", "vpc_id")? {
        Some(v) if !v.is_empty() => {
            vpc_or_404(ctx, v)?;
            v.to_string()
        }
        _ => String::new(),
    };
    let (g, rules) = new_sg(ctx, &name, "", &vpc_id);
    for rule in rules {
        ctx.world.rules.insert(rule.id.clone(), rule);
    }
    ctx.world.security_groups.insert(g.id.clone(), g.clone());
    let pid = ctx.world.project_id.clone();
    Reply::ok(json!({"security_group": render_sg_v1(ctx, &g, &pid)}))
}

fn render_sg_v3(ctx: &Ctx, g: &SecurityGroup, with_rules: bool) -> Value {
    let pid = &ctx.world.project_id;
    let mut v = json!({
        "id": g.id, "name": g.name, "description": g.description, "project_id": pid,
        "created_at": iso(g.created), "updated_at": iso(g.created), "enterprise_project_id": "0", "tags": [],
    });
    if with_rules {
        v["security_group_rules"] = rules_of(ctx, &g.id)
            .iter()
            .map(|r| render_rule_v3(r, pid))
            .collect();
    }
    v
}

pub fn create_sg_v3(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&CREATE_SG_V3)?;
    let r = &ctx.body["security_group"];
    let name = sg_name(ctx, r)?;
    let description = ctx
        .opt_str(r, "security_group.", "description")?
        .unwrap_or("");
    if description.chars().count() > 255 || description.contains(['<', '>']) {
        return Err(ctx.err(
            400,
            "`security_group.description` must be at most 255 characters, without `<` or `>`",
        ));
    }
    let (g, rules) = new_sg(ctx, &name, description, "");
    if ctx.body.get("dry_run").and_then(Value::as_bool) == Some(true) {
        return Reply::with(202, json!({"request_id": ctx.request_id}));
    }
    for rule in rules {
        ctx.world.rules.insert(rule.id.clone(), rule);
    }
    ctx.world.security_groups.insert(g.id.clone(), g.clone());
    let out = render_sg_v3(ctx, &g, true);
    Reply::with(
        201,
        json!({"request_id": ctx.request_id, "security_group": out}),
    )
}

pub fn list_sgs_v3(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let wanted = |key: &str| -> Vec<&str> {
        ctx.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let (ids, names) = (wanted("id"), wanted("name"));
    let mut groups: Vec<&SecurityGroup> = ctx
        .world
        .security_groups
        .values()
        .filter(|g| ids.is_empty() || ids.contains(&g.id.as_str()))
        .filter(|g| names.is_empty() || names.contains(&g.name.as_str()))
        .filter(|g| ctx.q("description").is_none_or(|d| d == g.description))
        .collect();
    groups.sort_by_key(|g| (g.created, g.id.clone()));
    ctx.after_marker(&mut groups, |g| g.id.as_str(), "a security group")?;
    let limit = ctx.q_num("limit")?.unwrap_or(2000).clamp(1, 2000);
    let more = groups.len() > limit;
    groups.truncate(limit);
    let mut page = json!({"current_count": groups.len()});
    if let Some(first) = groups.first() {
        page["previous_marker"] = json!(first.id);
    }
    if more {
        page["next_marker"] = json!(groups.last().map(|g| g.id.clone()));
    }
    let list: Vec<Value> = groups.iter().map(|g| render_sg_v3(ctx, g, false)).collect();
    Reply::ok(json!({"request_id": ctx.request_id, "security_groups": list, "page_info": page}))
}

/// Deletes a group and its rules; the built-in ones, a group a server uses and a group other
/// groups' rules name stay, with a 409 saying which.
pub fn delete_sg(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param(0).to_string();
    let g = sg_or_404(ctx, &id)?;
    if g.builtin {
        return Err(ctx.err(
            409,
            format!(
                "security group `{}` is built into the local cloud and cannot be deleted",
                g.name
            ),
        ));
    }
    if let Some(s) = ctx
        .world
        .servers
        .values()
        .find(|s| s.security_groups.contains(&id))
    {
        return Err(ctx.err(
            409,
            format!(
                "security group `{id}` is in use by server `{}`: delete the server first",
                s.id
            ),
        ));
    }
    if let Some(r) =
        ctx.world.rules.values().find(|r| {
            r.security_group_id != id && r.remote_group_id.as_deref() == Some(id.as_str())
        })
    {
        return Err(ctx.err(
            409,
            format!(
                "security group `{id}` is named by rule `{}` of group `{}`: delete that rule first",
                r.id, r.security_group_id
            ),
        ));
    }
    ctx.world.security_groups.remove(&id);
    ctx.world.rules.retain(|_, r| r.security_group_id != id);
    Reply::empty(204)
}

fn filtered_rules(ctx: &Ctx) -> Vec<SgRule> {
    let rules = ctx
        .world
        .rules
        .values()
        .filter(|r| {
            // The v3 SDK sends the group filter as a repeated parameter.
            let groups: Vec<&str> = ctx
                .query
                .iter()
                .filter(|(k, _)| k == "security_group_id")
                .map(|(_, v)| v.as_str())
                .collect();
            groups.is_empty() || groups.contains(&r.security_group_id.as_str())
        })
        .filter(|r| ctx.q("direction").is_none_or(|d| d == r.direction))
        .filter(|r| {
            ctx.q("protocol")
                .is_none_or(|p| Some(p) == r.protocol.as_deref())
        })
        .filter(|r| ctx.q("id").is_none_or(|id| id == r.id))
        .filter(|r| ctx.q("action").is_none_or(|a| a == r.action));
    sorted_rules(rules)
}

pub fn list_rules(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let pid = ctx.world.project_id.clone();
    let list: Vec<Value> = filtered_rules(ctx)
        .iter()
        .map(|r| render_rule_v1(r, &pid))
        .collect();
    Reply::ok(json!({"security_group_rules": list}))
}

pub fn list_rules_v3(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let pid = ctx.world.project_id.clone();
    let mut rules = filtered_rules(ctx);
    if let Some(marker) = ctx.q("marker") {
        if let Some(pos) = rules.iter().position(|r| r.id == marker) {
            rules.drain(..=pos);
        }
    }
    let limit = ctx.q_num("limit")?.unwrap_or(2000);
    let more = rules.len() > limit;
    rules.truncate(limit);
    let mut page = json!({"current_count": rules.len()});
    if let Some(first) = rules.first() {
        page["previous_marker"] = json!(first.id);
    }
    if more {
        page["next_marker"] = json!(rules.last().map(|r| r.id.clone()));
    }
    let list: Vec<Value> = rules.iter().map(|r| render_rule_v3(r, &pid)).collect();
    Reply::ok(
        json!({"request_id": ctx.request_id, "security_group_rules": list, "page_info": page}),
    )
}

static CREATE_RULE_V1: Shape = Shape::Obj(&[(
    "security_group_rule",
    fields! {
        "security_group_id", "description", "direction", "ethertype", "protocol", "port_range_min",
        "port_range_max", "remote_ip_prefix", "remote_group_id", "remote_address_group_id",
    },
)]);

static CREATE_RULE_V3: Shape = Shape::Obj(&[
    ("dry_run", Shape::Any),
    (
        "security_group_rule",
        fields! {
            "security_group_id", "description", "direction", "ethertype", "protocol", "multiport",
            "remote_ip_prefix", "remote_group_id", "remote_address_group_id", "action", "priority",
            "enabled",
        },
    ),
]);

fn port(ctx: &Ctx, r: &Value, key: &str) -> Result<Option<u32>, ApiError> {
    match r.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(p @ 1..=65535) => Ok(Some(p as u32)),
            _ => Err(ctx.err(
                400,
                format!("`security_group_rule.{key}` must be 1-65535, got {v}"),
            )),
        },
    }
}

/// An optional string of a rule, where empty means absent.
fn non_empty(ctx: &Ctx, r: &Value, key: &str) -> Result<Option<String>, ApiError> {
    Ok(ctx
        .opt_str(r, "security_group_rule.", key)?
        .filter(|s| !s.is_empty())
        .map(str::to_string))
}

/// The parts both rule versions share: group, direction, ethertype, protocol, remote.
fn common_rule(ctx: &Ctx, r: &Value) -> Result<SgRule, ApiError> {
    let p = "security_group_rule.";
    let sg = ctx.str_field(r, p, "security_group_id")?.to_string();
    if !ctx.world.security_groups.contains_key(&sg) {
        return Err(ctx.err(404, format!("security group `{sg}` does not exist")));
    }
    let direction = ctx.str_field(r, p, "direction")?.to_string();
    if direction != "ingress" && direction != "egress" {
        return Err(ctx.err(
            400,
            format!("`{p}direction` `{direction}` is invalid: use ingress or egress"),
        ));
    }
    let ethertype = ctx
        .opt_str(r, p, "ethertype")?
        .unwrap_or("IPv4")
        .to_string();
    if ethertype != "IPv4" && ethertype != "IPv6" {
        return Err(ctx.err(
            400,
            format!("`{p}ethertype` `{ethertype}` is invalid: use IPv4 or IPv6"),
        ));
    }
    let protocol = match r.get("protocol") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s))
            if ["tcp", "udp", "icmp", "icmpv6", "gre"].contains(&s.as_str())
                || s.parse::<u8>().is_ok() =>
        {
            Some(s.clone())
        }
        Some(v) => {
            return Err(ctx.err(
                400,
                format!("`{p}protocol` {v} is invalid: use tcp, udp, icmp or a protocol number"),
            ));
        }
    };
    let remote_ip_prefix = non_empty(ctx, r, "remote_ip_prefix")?;
    if let Some(prefix) = &remote_ip_prefix {
        if ethertype == "IPv4" && parse_cidr(prefix).is_none() {
            return Err(ctx.err(
                400,
                format!("`{p}remote_ip_prefix` `{prefix}` is not an IPv4 CIDR"),
            ));
        }
    }
    let remote_group_id = non_empty(ctx, r, "remote_group_id")?;
    if remote_ip_prefix.is_some() && remote_group_id.is_some() {
        return Err(ctx.err(
            400,
            format!("`{p}remote_ip_prefix` and `{p}remote_group_id` are mutually exclusive"),
        ));
    }
    Ok(SgRule {
        id: new_id(),
        security_group_id: sg,
        description: ctx.opt_str(r, p, "description")?.unwrap_or("").to_string(),
        direction,
        ethertype,
        protocol,
        port_range_min: None,
        port_range_max: None,
        multiport: None,
        remote_ip_prefix,
        remote_group_id,
        action: "allow".into(),
        priority: 1,
        created: ctx.now,
    })
}

fn duplicate(ctx: &Ctx, rule: &SgRule) -> bool {
    ctx.world.rules.values().any(|r| {
        r.security_group_id == rule.security_group_id
            && r.direction == rule.direction
            && r.ethertype == rule.ethertype
            && r.protocol == rule.protocol
            && r.port_range_min == rule.port_range_min
            && r.port_range_max == rule.port_range_max
            && r.remote_ip_prefix == rule.remote_ip_prefix
            && r.remote_group_id == rule.remote_group_id
            && r.action == rule.action
    })
}

pub fn create_rule(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&CREATE_RULE_V1)?;
    let r = &ctx.body["security_group_rule"];
    let mut rule = common_rule(ctx, r)?;
    let (min, max) = (
        port(ctx, r, "port_range_min")?,
        port(ctx, r, "port_range_max")?,
    );
    if min.is_some() != max.is_some() || min > max {
        return Err(ctx.err(
            400,
            "`security_group_rule.port_range_min` and `port_range_max` go together, min <= max",
        ));
    }
    if min.is_some() && !matches!(rule.protocol.as_deref(), Some("tcp" | "udp")) {
        return Err(ctx.err(400, "ports need `protocol` tcp or udp"));
    }
    rule.port_range_min = min;
    rule.port_range_max = max;
    rule.multiport = match (min, max) {
        (Some(a), Some(b)) if a == b => Some(a.to_string()),
        (Some(a), Some(b)) => Some(format!("{a}-{b}")),
        _ => None,
    };
    if duplicate(ctx, &rule) {
        return Err(ctx.err_code(409, "VPC.0703", "Security group rule already exists."));
    }
    let out = render_rule_v1(&rule, &ctx.world.project_id);
    ctx.world.rules.insert(rule.id.clone(), rule);
    Reply::ok(json!({"security_group_rule": out}))
}

pub fn create_rule_v3(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&CREATE_RULE_V3)?;
    let r = &ctx.body["security_group_rule"];
    let mut rule = common_rule(ctx, r)?;
    let p = "security_group_rule.";
    let multiport = non_empty(ctx, r, "multiport")?;
    if let Some(mp) = &multiport {
        let ok = mp.split(',').all(|part| {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            matches!((a.trim().parse::<u32>(), b.trim().parse::<u32>()), (Ok(a @ 1..=65535), Ok(b @ 1..=65535)) if a <= b)
        });
        if !ok {
            return Err(ctx.err(
                400,
                format!("`{p}multiport` `{mp}` is invalid: use `22`, `1-30` or `22,80,443`"),
            ));
        }
        if !matches!(rule.protocol.as_deref(), Some("tcp" | "udp")) {
            return Err(ctx.err(400, "ports need `protocol` tcp or udp"));
        }
        // The v1 view shows a single port or range; a list has no v1 form.
        if !mp.contains(',') {
            let (a, b) = mp.split_once('-').unwrap_or((mp, mp));
            rule.port_range_min = a.trim().parse().ok();
            rule.port_range_max = b.trim().parse().ok();
        }
    }
    rule.multiport = multiport;
    rule.action = ctx.opt_str(r, p, "action")?.unwrap_or("allow").to_string();
    if rule.action != "allow" && rule.action != "deny" {
        return Err(ctx.err(
            400,
            format!(
                "`{p}action` `{}` is invalid: use allow or deny",
                rule.action
            ),
        ));
    }
    rule.priority = match r.get("priority") {
        None | Some(Value::Null) => 1,
        Some(v) => match v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        {
            Some(n @ 1..=100) => n as u32,
            _ => return Err(ctx.err(400, format!("`{p}priority` must be 1-100, got {v}"))),
        },
    };
    if duplicate(ctx, &rule) {
        return Err(ctx.err_code(409, "VPC.SG.2009", "Security group rule already exists."));
    }
    let out = render_rule_v3(&rule, &ctx.world.project_id);
    if ctx.body.get("dry_run").and_then(Value::as_bool) != Some(true) {
        ctx.world.rules.insert(rule.id.clone(), rule);
    }
    Reply::with(
        201,
        json!({"request_id": ctx.request_id, "security_group_rule": out}),
    )
}

fn rule_or_404<'a>(ctx: &'a Ctx, id: &str) -> Result<&'a SgRule, ApiError> {
    found(ctx, &ctx.world.rules, "security group rule", id)
}

pub fn show_rule(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let r = rule_or_404(ctx, ctx.param(0))?;
    Reply::ok(json!({"security_group_rule": render_rule_v1(r, &ctx.world.project_id)}))
}

pub fn show_rule_v3(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let r = rule_or_404(ctx, ctx.param(0))?;
    Reply::ok(
        json!({"request_id": ctx.request_id, "security_group_rule": render_rule_v3(r, &ctx.world.project_id)}),
    )
}

pub fn delete_rule(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param(0).to_string();
    if ctx.world.rules.remove(&id).is_none() {
        return Err(ctx.err(404, format!("security group rule `{id}` does not exist")));
    }
    Reply::empty(204)
}

/// A server's one NIC as the VPC API's port.
fn render_port(ctx: &Ctx, s: &crate::world::Server) -> Value {
    let neutron_subnet = ctx.world.neutron_subnet_of(s);
    json!({
        "id": s.port_id, "name": "", "network_id": s.subnet_id, "admin_state_up": true,
        "mac_address": s.mac,
        "fixed_ips": [{"subnet_id": neutron_subnet, "ip_address": s.private_ip}],
        "device_id": s.id, "device_owner": format!("compute:{}", s.availability_zone),
        "tenant_id": ctx.world.project_id,
        "status": if s.status == "ACTIVE" { "ACTIVE" } else { "DOWN" },
        "security_groups": s.security_groups, "allowed_address_pairs": [], "extra_dhcp_opts": [],
        "binding:vnic_type": "normal", "dns_assignment": [], "dns_name": "",
        "binding:vif_details": {}, "binding:profile": {}, "instance_id": s.id,
        "instance_type": "ecs", "port_security_enabled": true, "zone_id": s.availability_zone,
    })
}

/// `GET /v1/{project_id}/ports`: the servers' NICs, filtered as the API filters them.
pub fn list_ports(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let ids: Vec<&str> = ctx
        .query
        .iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v.as_str())
        .collect();
    let fixed: Vec<(&str, &str)> = ctx
        .query
        .iter()
        .filter(|(k, _)| k == "fixed_ips")
        .map(|(_, v)| v.split_once('=').unwrap_or(("ip_address", v.as_str())))
        .collect();
    let mut servers: Vec<&crate::world::Server> = ctx.world.servers.values().collect();
    servers.sort_by_key(|s| (s.created, s.port_id.clone()));
    let mut list: Vec<Value> = servers
        .into_iter()
        .filter(|s| ids.is_empty() || ids.contains(&s.port_id.as_str()))
        .map(|s| render_port(ctx, s))
        .filter(|p| {
            [
                "name",
                "network_id",
                "mac_address",
                "device_id",
                "device_owner",
                "status",
            ]
            .iter()
            .all(|k| ctx.q(k).is_none_or(|want| p[k] == want))
        })
        .filter(|p| {
            fixed.iter().all(|(k, want)| {
                p["fixed_ips"]
                    .as_array()
                    .is_some_and(|ips| ips.iter().any(|ip| ip[*k] == *want))
            })
        })
        .collect();
    ctx.after_marker(&mut list, |p| p["id"].as_str().unwrap_or(""), "a port")?;
    if let Some(limit) = ctx.q_num("limit")? {
        list.truncate(limit.max(1));
    }
    Reply::ok(json!({"ports": list}))
}

pub fn show_port(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param(0).to_string();
    match ctx.world.servers.values().find(|s| s.port_id == id) {
        Some(s) => Reply::ok(json!({"port": render_port(ctx, s)})),
        None => Err(ctx.err(404, format!("port `{id}` does not exist"))),
    }
}

fn eip_time(ms: u64) -> String {
    iso(ms).replace('T', " ").trim_end_matches('Z').to_string()
}

fn no_eip(ctx: &Ctx, id: &str) -> ApiError {
    ctx.err_code(404, "EIP.7904", format!("publicip `{id}` does not exist"))
}

fn render_eip(ctx: &Ctx, e: &Eip) -> Value {
    json!({
        "id": e.id, "status": e.status, "type": e.kind, "public_ip_address": e.address,
        "private_ip_address": e.private_ip, "port_id": e.port_id, "tenant_id": ctx.world.project_id,
        "create_time": eip_time(e.created), "bandwidth_id": e.bandwidth_id, "bandwidth_name": e.bandwidth_name,
        "bandwidth_size": e.bandwidth_size, "bandwidth_share_type": e.bandwidth_share_type,
        "enterprise_project_id": "0", "ip_version": 4, "alias": e.alias, "tags": [],
    })
}

static CREATE_EIP: Shape = Shape::Obj(&[
    (
        "publicip",
        fields! { "ip_address", "type", "ip_version", "alias", "port_id" },
    ),
    (
        "bandwidth",
        fields! { "charge_mode", "id", "name", "share_type", "size" },
    ),
    ("enterprise_project_id", Shape::Any),
]);

pub fn create_eip(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&CREATE_EIP)?;
    let (p, b) = (&ctx.body["publicip"], &ctx.body["bandwidth"]);
    let kind = ctx.str_field(p, "publicip.", "type")?.to_string();
    if kind != "5_bgp" && kind != "5_sbgp" {
        return Err(ctx.err_code(
            400,
            "EIP.7904",
            format!("`publicip.type` `{kind}` is not offered in this region: use 5_bgp or 5_sbgp"),
        ));
    }
    if let Some(v) = p.get("ip_version").filter(|v| !v.is_null()) {
        if v.as_u64() != Some(4) {
            return Err(ctx.err(400, "`publicip.ip_version` must be 4"));
        }
    }
    let share = ctx.str_field(b, "bandwidth.", "share_type")?.to_string();
    if share != "PER" && share != "WHOLE" {
        return Err(ctx.err(
            400,
            format!("`bandwidth.share_type` `{share}` is invalid: use PER or WHOLE"),
        ));
    }
    if share == "WHOLE" {
        return Err(ctx.err(
            400,
            "shared bandwidth (`WHOLE`) is not offered by the local cloud: use PER",
        ));
    }
    let size = match b.get("size").and_then(Value::as_u64) {
        Some(n @ 1..=2000) => n as u32,
        _ => return Err(ctx.err(400, "`bandwidth.size` must be 1-2000 Mbit/s")),
    };
    let name = ctx.str_field(b, "bandwidth.", "name")?.to_string();
    let charge = ctx
        .opt_str(b, "bandwidth.", "charge_mode")?
        .unwrap_or("bandwidth")
        .to_string();
    if charge != "traffic" && charge != "bandwidth" {
        return Err(ctx.err(
            400,
            format!("`bandwidth.charge_mode` `{charge}` is invalid: use traffic or bandwidth"),
        ));
    }
    let Some(address) = ctx.world.allocate_eip(ctx.config.eip_pool) else {
        return Err(ctx.err_code(
            400,
            "EIP.0010",
            "Insufficient quota: the EIP pool is exhausted",
        ));
    };
    let e = Eip {
        id: new_id(),
        address,
        kind,
        status: "DOWN".into(),
        port_id: None,
        private_ip: None,
        bandwidth_id: new_id(),
        bandwidth_name: name,
        bandwidth_size: size,
        bandwidth_share_type: share,
        charge_mode: charge,
        alias: ctx.opt_str(p, "publicip.", "alias")?.map(str::to_string),
        created: ctx.now,
    };
    let out = render_eip(ctx, &e);
    ctx.world.eips.insert(e.id.clone(), e);
    Reply::ok(json!({"publicip": out}))
}

pub fn list_eips(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let list: Vec<Value> = ctx
        .world
        .eips
        .values()
        .map(|e| render_eip(ctx, e))
        .collect();
    Reply::ok(json!({"publicips": list}))
}

pub fn show_eip(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param(0);
    match ctx.world.eips.get(id) {
        Some(e) => Reply::ok(json!({"publicip": render_eip(ctx, e)})),
        None => Err(no_eip(ctx, id)),
    }
}

/// An EIP as EIP v3 shows it.
fn render_eip_v3(ctx: &Ctx, e: &Eip) -> Value {
    let server = e
        .port_id
        .as_ref()
        .and_then(|port| ctx.world.servers.values().find(|s| &s.port_id == port));
    let vnic = e.port_id.as_ref().map(|port| {
        json!({
            "private_ip_address": e.private_ip, "port_id": port,
            "device_id": server.map(|s| s.id.as_str()), "device_owner": "compute:nova",
            "vpc_id": server.map(|s| s.vpc_id.as_str()), "instance_id": server.map(|s| s.id.as_str()),
            "instance_type": "ECS", "mac": server.map(|s| s.mac.as_str()),
        })
    });
    json!({
        "id": e.id, "project_id": ctx.world.project_id, "ip_version": 4,
        "public_ip_address": e.address, "network_type": e.kind, "status": e.status,
        "description": "", "public_border_group": "center",
        "created_at": iso(e.created), "updated_at": iso(e.created), "type": "EIP",
        "vnic": vnic,
        "bandwidth": {
            "id": e.bandwidth_id, "size": e.bandwidth_size, "share_type": e.bandwidth_share_type,
            "charge_mode": e.charge_mode, "name": e.bandwidth_name, "billing_info": "",
        },
        "enterprise_project_id": "0", "billing_info": "", "lock_status": "",
        "associate_instance_type": if vnic.is_some() { "PORT" } else { "" },
        "associate_instance_id": e.port_id,
        "alias": e.alias, "tags": [],
    })
}

/// `ShowPublicip` of EIP v3.
pub fn show_eip_v3(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param(0);
    match ctx.world.eips.get(id) {
        Some(e) => {
            Reply::ok(json!({"request_id": ctx.request_id, "publicip": render_eip_v3(ctx, e)}))
        }
        None => Err(no_eip(ctx, id)),
    }
}

/// `ListPublicips` of EIP v3: filters `id`, `public_ip_address` and `alias` (each may repeat),
/// paged by `limit` and `marker` with `page_info` and `total_count`.
pub fn list_eips_v3(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let (ids, addresses, aliases) = (
        ctx.q_all("id"),
        ctx.q_all("public_ip_address"),
        ctx.q_all("alias"),
    );
    let mut list: Vec<&Eip> = ctx
        .world
        .eips
        .values()
        .filter(|e| ids.is_empty() || ids.contains(&e.id.as_str()))
        .filter(|e| addresses.is_empty() || addresses.contains(&e.address.as_str()))
        .filter(|e| aliases.is_empty() || e.alias.as_deref().is_some_and(|a| aliases.contains(&a)))
        .collect();
    let total = list.len();
    let page = v3_page(ctx, &mut list, |e| e.id.as_str(), "an EIP")?;
    let eips: Vec<Value> = list.iter().map(|e| render_eip_v3(ctx, e)).collect();
    Reply::ok(
        json!({"request_id": ctx.request_id, "publicips": eips, "page_info": page, "total_count": total}),
    )
}

static UPDATE_EIP: Shape =
    Shape::Obj(&[("publicip", fields! { "port_id", "ip_version", "alias" })]);

pub fn update_eip(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.check(&UPDATE_EIP)?;
    let id = ctx.param(0).to_string();
    let Some(bound) = ctx.world.eips.get(&id).map(|e| e.port_id.is_some()) else {
        return Err(no_eip(ctx, &id));
    };
    let p = &ctx.body["publicip"];
    if let Some(alias) = ctx.opt_str(p, "publicip.", "alias")? {
        let alias = alias.to_string();
        if let Some(e) = ctx.world.eips.get_mut(&id) {
            e.alias = Some(alias);
        }
    }
    if let Some(port) = p.get("port_id") {
        let port = port.as_str().unwrap_or("").to_string();
        if port.is_empty() {
            // Unbind.
            let server = ctx
                .world
                .servers
                .values_mut()
                .find(|s| s.eip_id.as_deref() == Some(id.as_str()));
            if let Some(s) = server {
                s.eip_id = None;
                let address = ctx.world.eips.get(&id).map(|e| e.address.clone());
                if let Some(address) = address {
                    ctx.backend.unbind_address(&s.id, &address);
                }
            }
            if let Some(e) = ctx.world.eips.get_mut(&id) {
                e.status = "DOWN".into();
                e.port_id = None;
                e.private_ip = None;
            }
        } else {
            if bound {
                return Err(ctx.err_code(
                    409,
                    "EIP.7902",
                    format!("publicip `{id}` is already bound: unbind it first"),
                ));
            }
            let Some(server_id) = ctx
                .world
                .servers
                .values()
                .find(|s| s.port_id == port)
                .map(|s| s.id.clone())
            else {
                return Err(ctx.err(404, format!("port `{port}` does not exist")));
            };
            if ctx.world.servers[&server_id].eip_id.is_some() {
                return Err(ctx.err_code(
                    409,
                    "EIP.7902",
                    format!("port `{port}` already has a public IP"),
                ));
            }
            super::ecs::bind_eip(ctx, &id, &server_id);
        }
    }
    let out = ctx
        .world
        .eips
        .get(&id)
        .map(|e| render_eip(ctx, e))
        .unwrap_or(Value::Null);
    Reply::ok(json!({"publicip": out}))
}

pub fn delete_eip(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param(0).to_string();
    match ctx.world.eips.get(&id) {
        None => {
            return Err(no_eip(ctx, &id));
        }
        Some(e) if e.port_id.is_some() => {
            return Err(ctx.err_code(
                409,
                "EIP.7902",
                format!(
                    "publicip `{id}` is bound to a server: unbind it or delete the server first"
                ),
            ));
        }
        Some(_) => {}
    }
    ctx.world.eips.remove(&id);
    Reply::empty(204)
}
