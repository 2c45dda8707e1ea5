//! The API operations of the local cloud: the route table (method + path → operation name as
//! the SDK calls it), the error bodies of each service, the check of request bodies against the
//! fields the real API accepts, and the handlers, one module per service.

mod ecs;
mod iam;
pub(crate) mod ims;
mod vpc;

use serde_json::{Value, json};

use crate::backend::ServerBackend;
use crate::config::{Config, Latency};
use crate::faults::{FaultKind, Faults};
use crate::http::Service;
use crate::world::World;

/// The error-body family of an API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Keystone: `{"error":{"code":404,"message","title"}}`.
    Iam,
    /// ECS native: `{"error":{"code":"Ecs.0005","message"}}`.
    Ecs,
    /// Nova (`/v2.1`): `{"itemNotFound":{"code":404,"message"}}`.
    Nova,
    /// IMS native: `{"error":{"code":"IMG.0001","message"}}`.
    Ims,
    /// Glance (`/v2/images`): `{"error":{"code":"IMG.0027","message"}}` as IMS answers it.
    Glance,
    /// VPC v1 and EIP: `{"code":"VPC.0101","message"}`.
    Vpc,
    /// VPC v3: `{"request_id","error_code","error_msg"}`.
    VpcV3,
    /// The admin endpoints.
    Admin,
}

/// A successful answer: status and optional JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Option<Value>,
}

impl Reply {
    pub fn ok(body: Value) -> Result<Reply, ApiError> {
        Ok(Reply {
            status: 200,
            body: Some(body),
        })
    }
    pub fn with(status: u16, body: Value) -> Result<Reply, ApiError> {
        Ok(Reply {
            status,
            body: Some(body),
        })
    }
    pub fn empty(status: u16) -> Result<Reply, ApiError> {
        Ok(Reply { status, body: None })
    }
}

/// An error answer in the service's own format.
#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub body: Value,
}

fn default_code(style: Style, status: u16) -> &'static str {
    match (style, status) {
        (Style::Ecs, 404) => "Ecs.0114",
        (Style::Ecs, 409) => "Ecs.0011",
        (Style::Ecs, s) if s >= 500 => "Ecs.0002",
        (Style::Ecs, _) => "Ecs.0005",
        (Style::Ims | Style::Glance, 404) => "IMG.0027",
        (Style::Ims | Style::Glance, 409) => "IMG.0015",
        (Style::Ims | Style::Glance, s) if s >= 500 => "IMG.0002",
        (Style::Ims | Style::Glance, _) => "IMG.0001",
        (Style::Vpc | Style::VpcV3, 404) => "VPC.0202",
        (Style::Vpc | Style::VpcV3, 409) => "VPC.0204",
        (Style::Vpc | Style::VpcV3, s) if s >= 500 => "VPC.0001",
        (Style::Vpc | Style::VpcV3, _) => "VPC.0002",
        _ => "",
    }
}

fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        _ => "Internal Server Error",
    }
}

/// Builds an error body; an empty `code` takes the service's usual code for `status`.
pub fn error(style: Style, status: u16, code: &str, message: &str, request_id: &str) -> ApiError {
    let code = if code.is_empty() {
        default_code(style, status)
    } else {
        code
    };
    let body = match style {
        Style::Iam => {
            json!({"error": {"code": status, "message": message, "title": title(status)}})
        }
        Style::Ecs | Style::Ims | Style::Glance => {
            json!({"error": {"code": code, "message": message}})
        }
        Style::Nova => {
            let key = match status {
                404 => "itemNotFound",
                409 => "conflictingRequest",
                403 => "forbidden",
                s if s >= 500 => "computeFault",
                _ => "badRequest",
            };
            json!({key: {"code": status, "message": message}})
        }
        Style::Vpc => json!({"code": code, "message": message}),
        Style::VpcV3 | Style::Admin => {
            json!({"request_id": request_id, "error_code": code, "error_msg": message})
        }
    };
    ApiError { status, body }
}

/// Everything a handler may use.
pub struct Ctx<'a> {
    pub world: &'a mut World,
    pub faults: &'a mut Faults,
    pub now: u64,
    pub latency: &'a Latency,
    pub config: &'a Config,
    pub backend: &'a dyn ServerBackend,
    /// The fault armed for this call, for handlers that make jobs.
    pub fault: Option<FaultKind>,
    pub request_id: &'a str,
    /// Path parameters in order (the project id is checked and left out).
    pub params: Vec<String>,
    pub query: &'a [(String, String)],
    pub body: &'a Value,
    pub style: Style,
}

impl Ctx<'_> {
    pub fn err(&self, status: u16, message: impl AsRef<str>) -> ApiError {
        error(self.style, status, "", message.as_ref(), self.request_id)
    }
    pub fn err_code(&self, status: u16, code: &str, message: impl AsRef<str>) -> ApiError {
        error(self.style, status, code, message.as_ref(), self.request_id)
    }
    pub fn param(&self, i: usize) -> &str {
        self.params.get(i).map(String::as_str).unwrap_or("")
    }
    /// The last value of a query parameter.
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// Every value of a query parameter that may repeat, in order.
    pub fn q_all(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    /// A query parameter that must be a non-negative integer, if present.
    pub fn q_num(&self, key: &str) -> Result<Option<usize>, ApiError> {
        match self.q(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                self.err(
                    400,
                    format!("query parameter `{key}` must be a non-negative integer, got `{v}`"),
                )
            }),
        }
    }
    /// Drops the items up to and including the one the `marker` query names, as the APIs page;
    /// a marker naming none of them is a 400 that says it is not a `what` id of this listing.
    pub fn after_marker<T>(
        &self,
        list: &mut Vec<T>,
        id_of: impl Fn(&T) -> &str,
        what: &str,
    ) -> Result<(), ApiError> {
        let Some(marker) = self.q("marker") else {
            return Ok(());
        };
        match list.iter().position(|item| id_of(item) == marker) {
            Some(pos) => {
                list.drain(..=pos);
                Ok(())
            }
            None => Err(self.err(
                400,
                format!("marker `{marker}` is not {what} id of this listing"),
            )),
        }
    }
    /// Checks the body against `shape`: refuses unknown fields and non-objects where objects go.
    pub fn check(&self, shape: &Shape) -> Result<(), ApiError> {
        if self.body.is_null() {
            return Err(self.err(400, "request body is required"));
        }
        check_shape(self.body, shape, "").map_err(|m| self.err(400, m))
    }
    /// A required string field of an object.
    pub fn str_field<'v>(
        &self,
        obj: &'v Value,
        path: &str,
        key: &str,
    ) -> Result<&'v str, ApiError> {
        match obj.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                Err(self.err(400, format!("`{path}{key}` is required")))
            }
            Some(_) => Err(self.err(400, format!("`{path}{key}` must be a string"))),
        }
    }
    /// An optional string field.
    pub fn opt_str<'v>(
        &self,
        obj: &'v Value,
        path: &str,
        key: &str,
    ) -> Result<Option<&'v str>, ApiError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.err(400, format!("`{path}{key}` must be a string"))),
        }
    }
}

/// The fields a request body may have.
#[derive(Debug)]
pub enum Shape {
    /// Any value.
    Any,
    /// An object with exactly these fields allowed (each optional).
    Obj(&'static [(&'static str, Shape)]),
    /// A list of values of one shape.
    List(&'static Shape),
}

fn check_shape(v: &Value, shape: &Shape, path: &str) -> Result<(), String> {
    match shape {
        Shape::Any => Ok(()),
        Shape::Obj(fields) => {
            let Value::Object(map) = v else {
                return Err(format!(
                    "`{}` must be an object",
                    if path.is_empty() { "body" } else { path }
                ));
            };
            for (k, val) in map {
                let full = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match fields.iter().find(|(name, _)| name == k) {
                    Some((_, sub)) => {
                        if !val.is_null() {
                            check_shape(val, sub, &full)?
                        }
                    }
                    None => {
                        let known: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
                        let hint = crate::ops::closest(k, &known)
                            .map(|c| format!(" (did you mean `{c}`?)"))
                            .unwrap_or_default();
                        return Err(format!("unknown field `{full}`{hint}"));
                    }
                }
            }
            Ok(())
        }
        Shape::List(item) => {
            let Value::Array(items) = v else {
                return Err(format!("`{path}` must be a list"));
            };
            for (i, it) in items.iter().enumerate() {
                check_shape(it, item, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
    }
}

/// The known name closest to `name` when it is a likely typo.
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    known.iter().copied().find(|k| {
        let k2 = k.to_ascii_lowercase();
        k2 == lower || k2.replace('_', "") == lower.replace('_', "")
    })
}

pub type Handler = fn(&mut Ctx) -> Result<Reply, ApiError>;

/// A matched route.
#[derive(Clone)]
pub struct Route {
    pub style: Style,
    pub op: &'static str,
    pub handler: Handler,
    pub params: Vec<String>,
    /// The project id found in the path, checked against the cloud's.
    pub project: Option<String>,
    pub admin: bool,
}

struct Entry {
    service: Option<Service>,
    method: &'static str,
    pattern: &'static str,
    op: &'static str,
    style: Style,
    handler: Handler,
}

const fn e(
    service: Service,
    method: &'static str,
    pattern: &'static str,
    op: &'static str,
    style: Style,
    handler: Handler,
) -> Entry {
    Entry {
        service: Some(service),
        method,
        pattern,
        op,
        style,
        handler,
    }
}

use Service::{Ecs as E, Iam as I, Ims as M, Vpc as V};

/// Literal segments come before `{}` ones where both could match.
static ROUTES: &[Entry] = &[
    e(
        I,
        "GET",
        "/v3/projects",
        "KeystoneListProjects",
        Style::Iam,
        iam::list_projects,
    ),
    e(
        I,
        "GET",
        "/v3/projects/{}",
        "KeystoneShowProject",
        Style::Iam,
        iam::show_project,
    ),
    e(
        I,
        "GET",
        "/v3/regions",
        "KeystoneListRegions",
        Style::Iam,
        iam::list_regions,
    ),
    e(
        I,
        "GET",
        "/v3/regions/{}",
        "KeystoneShowRegion",
        Style::Iam,
        iam::show_region,
    ),
    e(
        I,
        "GET",
        "/v3/auth/projects",
        "KeystoneListAuthProjects",
        Style::Iam,
        iam::list_auth_projects,
    ),
    e(
        I,
        "GET",
        "/v3/auth/domains",
        "KeystoneListAuthDomains",
        Style::Iam,
        iam::list_auth_domains,
    ),
    e(
        E,
        "GET",
        "/v2.1/{pid}/os-availability-zone",
        "NovaListAvailabilityZones",
        Style::Nova,
        ecs::nova_azs,
    ),
    e(
        E,
        "GET",
        "/v1/{pid}/availability-zones",
        "ListServerAzInfo",
        Style::Ecs,
        ecs::az_info,
    ),
    e(
        E,
        "GET",
        "/v1/{pid}/cloudservers/flavors",
        "ListFlavors",
        Style::Ecs,
        ecs::flavors,
    ),
    e(
        E,
        "POST",
        "/v1/{pid}/cloudservers",
        "CreatePostPaidServers",
        Style::Ecs,
        ecs::create_v1,
    ),
    e(
        E,
        "POST",
        "/v1.1/{pid}/cloudservers",
        "CreateServers",
        Style::Ecs,
        ecs::create_v11,
    ),
    e(
        E,
        "GET",
        "/v1/{pid}/cloudservers/detail",
        "ListServersDetails",
        Style::Ecs,
        ecs::list_servers,
    ),
    e(
        E,
        "POST",
        "/v1/{pid}/cloudservers/action",
        "BatchServerAction",
        Style::Ecs,
        ecs::batch_action,
    ),
    e(
        E,
        "POST",
        "/v1/{pid}/cloudservers/delete",
        "DeleteServers",
        Style::Ecs,
        ecs::delete_servers,
    ),
    e(
        E,
        "GET",
        "/v1/{pid}/cloudservers/limits",
        "ShowServerLimits",
        Style::Ecs,
        ecs::limits,
    ),
    e(
        E,
        "GET",
        "/v1/{pid}/cloudservers/tags",
        "ListServerTags",
        Style::Ecs,
        ecs::list_project_server_tags,
    ),
    e(
        E,
        "GET",
        "/v1/{pid}/cloudservers/{}/tags",
        "ShowServerTags",
        Style::Ecs,
        ecs::show_server_tags,
    ),
    e(
        E,
        "POST",
        "/v1/{pid}/cloudservers/{}/tags/action",
        "BatchServerTagsAction",
        Style::Ecs,
        ecs::server_tags_action,
    ),
    e(
        E,
        "PUT",
        "/v1/{pid}/cloudservers/{}",
        "UpdateServer",
        Style::Ecs,
        ecs::update_server,
    ),
    e(
        E,
        "GET",
        "/v2.1/{pid}/servers",
        "NovaListServers",
        Style::Nova,
        ecs::nova_list_servers,
    ),
    e(
        E,
        "GET",
        "/v2.1/{pid}/servers/detail",
        "NovaListServersDetails",
        Style::Nova,
        ecs::nova_list_servers_details,
    ),
    e(
        E,
        "GET",
        "/v2.1/{pid}/servers/{}",
        "NovaShowServer",
        Style::Nova,
        ecs::nova_show_server,
    ),
    e(
        E,
        "DELETE",
        "/v2.1/{pid}/servers/{}",
        "NovaDeleteServer",
        Style::Nova,
        ecs::nova_delete_server,
    ),
    e(
        E,
        "GET",
        "/v1/{pid}/cloudservers/{}/os-server-password",
        "ShowServerPassword",
        Style::Ecs,
        ecs::server_password,
    ),
    e(
        E,
        "GET",
        "/v1/{pid}/cloudservers/{}",
        "ShowServer",
        Style::Ecs,
        ecs::show_server,
    ),
    e(
        E,
        "GET",
        "/v1/{pid}/cloudservers/{}/os-interface",
        "ListServerInterfaces",
        Style::Ecs,
        ecs::interfaces,
    ),
    e(
        E,
        "GET",
        "/v1/{pid}/cloudservers/{}/block_device",
        "ListServerBlockDevices",
        Style::Ecs,
        ecs::list_block_devices,
    ),
    e(
        E,
        "GET",
        "/v1/{pid}/jobs/{}",
        "ShowJob",
        Style::Ecs,
        ecs::show_job,
    ),
    e(
        E,
        "POST",
        "/v2.1/{pid}/os-keypairs",
        "NovaCreateKeypair",
        Style::Nova,
        ecs::create_keypair,
    ),
    e(
        E,
        "GET",
        "/v2.1/{pid}/os-keypairs",
        "NovaListKeypairs",
        Style::Nova,
        ecs::list_keypairs,
    ),
    e(
        E,
        "GET",
        "/v2.1/{pid}/os-keypairs/{}",
        "NovaShowKeypair",
        Style::Nova,
        ecs::show_keypair,
    ),
    e(
        E,
        "DELETE",
        "/v2.1/{pid}/os-keypairs/{}",
        "NovaDeleteKeypair",
        Style::Nova,
        ecs::delete_keypair,
    ),
    e(
        M,
        "POST",
        "/v2/cloudimages/action",
        "CreateImage",
        Style::Ims,
        ims::create_image,
    ),
    e(
        M,
        "POST",
        "/v2.1/cloudimages/action",
        "CreateImageInSafeMode",
        Style::Ims,
        ims::create_image,
    ),
    e(
        M,
        "GET",
        "/v1/cloudimages/os_version",
        "ListOsVersions",
        Style::Ims,
        ims::list_os_versions,
    ),
    e(
        M,
        "GET",
        "/v2/cloudimages",
        "ListImages",
        Style::Ims,
        ims::list_images,
    ),
    e(
        M,
        "PATCH",
        "/v2/cloudimages/{}",
        "UpdateImage",
        Style::Ims,
        ims::update_image,
    ),
    e(
        M,
        "GET",
        "/v2/images",
        "GlanceListImages",
        Style::Glance,
        ims::glance_list_images,
    ),
    e(
        M,
        "GET",
        "/v2/images/{}",
        "GlanceShowImage",
        Style::Glance,
        ims::show_image,
    ),
    e(
        M,
        "GET",
        "/v1/cloudimages/job/{}",
        "ShowJobProgress",
        Style::Ims,
        ims::show_job,
    ),
    e(
        M,
        "DELETE",
        "/v2/images/{}",
        "GlanceDeleteImage",
        Style::Glance,
        ims::delete_image,
    ),
    e(
        M,
        "GET",
        "/v1/{pid}/jobs/{}",
        "ShowJob",
        Style::Ims,
        ims::show_job,
    ),
    e(
        M,
        "GET",
        "/v2/{pid}/images/{}/tags",
        "ListImageTags",
        Style::Ims,
        ims::list_tags,
    ),
    e(
        M,
        "POST",
        "/v2/{pid}/images/{}/tags",
        "AddImageTag",
        Style::Ims,
        ims::add_tag,
    ),
    e(
        M,
        "POST",
        "/v2/{pid}/images/{}/tags/action",
        "BatchAddOrDeleteTags",
        Style::Ims,
        ims::batch_tags,
    ),
    e(
        M,
        "DELETE",
        "/v2/{pid}/images/{}/tags/{}",
        "DeleteImageTag",
        Style::Ims,
        ims::delete_tag,
    ),
    e(
        M,
        "POST",
        "/v1/cloudimages/members",
        "BatchAddMembers",
        Style::Ims,
        ims::add_members,
    ),
    e(
        M,
        "DELETE",
        "/v1/cloudimages/members",
        "BatchDeleteMembers",
        Style::Ims,
        ims::delete_members,
    ),
    e(
        M,
        "POST",
        "/v2/images/{}/members",
        "GlanceAddImageMember",
        Style::Glance,
        ims::glance_add_member,
    ),
    e(
        M,
        "GET",
        "/v2/images/{}/members/{}",
        "GlanceShowImageMember",
        Style::Glance,
        ims::glance_show_member,
    ),
    e(
        M,
        "DELETE",
        "/v2/images/{}/members/{}",
        "GlanceDeleteImageMember",
        Style::Glance,
        ims::glance_delete_member,
    ),
    e(
        M,
        "PATCH",
        "/v2/images/{}",
        "GlanceUpdateImage",
        Style::Glance,
        ims::glance_update_image,
    ),
    e(
        M,
        "GET",
        "/v1/{pid}/cloudimages/{}/members",
        "ListImageMembers",
        Style::Ims,
        ims::list_members,
    ),
    e(
        M,
        "GET",
        "/v2/images/{}/members",
        "GlanceListImageMembers",
        Style::Glance,
        ims::glance_list_members,
    ),
    e(
        M,
        "PUT",
        "/v2/images/{}/members/{}",
        "GlanceUpdateImageMember",
        Style::Glance,
        ims::glance_update_member,
    ),
    e(
        V,
        "POST",
        "/v1/{pid}/vpcs",
        "CreateVpc",
        Style::Vpc,
        vpc::create_vpc,
    ),
    e(
        V,
        "GET",
        "/v1/{pid}/vpcs",
        "ListVpcs",
        Style::Vpc,
        vpc::list_vpcs,
    ),
    e(
        V,
        "GET",
        "/v1/{pid}/vpcs/{}",
        "ShowVpc",
        Style::Vpc,
        vpc::show_vpc,
    ),
    e(
        V,
        "DELETE",
        "/v1/{pid}/vpcs/{}",
        "DeleteVpc",
        Style::Vpc,
        vpc::delete_vpc,
    ),
    e(
        V,
        "GET",
        "/v3/{pid}/vpc/vpcs",
        "ListVpcs",
        Style::VpcV3,
        vpc::list_vpcs_v3,
    ),
    e(
        V,
        "POST",
        "/v3/{pid}/vpc/vpcs",
        "CreateVpc",
        Style::VpcV3,
        vpc::create_vpc_v3,
    ),
    e(
        V,
        "DELETE",
        "/v3/{pid}/vpc/vpcs/{}",
        "DeleteVpc",
        Style::VpcV3,
        vpc::delete_vpc,
    ),
    e(
        V,
        "GET",
        "/v3/{pid}/eip/publicips",
        "ListPublicips",
        Style::VpcV3,
        vpc::list_eips_v3,
    ),
    e(
        V,
        "GET",
        "/v3/{pid}/eip/publicips/{}",
        "ShowPublicip",
        Style::VpcV3,
        vpc::show_eip_v3,
    ),
    e(
        V,
        "GET",
        "/v3/{pid}/vpc/vpcs/{}",
        "ShowVpc",
        Style::VpcV3,
        vpc::show_vpc_v3,
    ),
    e(
        V,
        "POST",
        "/v1/{pid}/subnets",
        "CreateSubnet",
        Style::Vpc,
        vpc::create_subnet,
    ),
    e(
        V,
        "GET",
        "/v1/{pid}/subnets",
        "ListSubnets",
        Style::Vpc,
        vpc::list_subnets,
    ),
    e(
        V,
        "GET",
        "/v1/{pid}/subnets/{}",
        "ShowSubnet",
        Style::Vpc,
        vpc::show_subnet,
    ),
    e(
        V,
        "DELETE",
        "/v1/{pid}/vpcs/{}/subnets/{}",
        "DeleteSubnet",
        Style::Vpc,
        vpc::delete_subnet,
    ),
    e(
        V,
        "GET",
        "/v1/{pid}/security-groups",
        "ListSecurityGroups",
        Style::Vpc,
        vpc::list_sgs,
    ),
    e(
        V,
        "POST",
        "/v1/{pid}/security-groups",
        "CreateSecurityGroup",
        Style::Vpc,
        vpc::create_sg,
    ),
    e(
        V,
        "DELETE",
        "/v1/{pid}/security-groups/{}",
        "DeleteSecurityGroup",
        Style::Vpc,
        vpc::delete_sg,
    ),
    e(
        V,
        "GET",
        "/v3/{pid}/vpc/security-groups",
        "ListSecurityGroups",
        Style::VpcV3,
        vpc::list_sgs_v3,
    ),
    e(
        V,
        "POST",
        "/v3/{pid}/vpc/security-groups",
        "CreateSecurityGroup",
        Style::VpcV3,
        vpc::create_sg_v3,
    ),
    e(
        V,
        "DELETE",
        "/v3/{pid}/vpc/security-groups/{}",
        "DeleteSecurityGroup",
        Style::VpcV3,
        vpc::delete_sg,
    ),
    e(
        V,
        "GET",
        "/v1/{pid}/ports",
        "ListPorts",
        Style::Vpc,
        vpc::list_ports,
    ),
    e(
        V,
        "GET",
        "/v1/{pid}/ports/{}",
        "ShowPort",
        Style::Vpc,
        vpc::show_port,
    ),
    e(
        V,
        "GET",
        "/v1/{pid}/security-groups/{}",
        "ShowSecurityGroup",
        Style::Vpc,
        vpc::show_sg,
    ),
    e(
        V,
        "GET",
        "/v1/{pid}/security-group-rules",
        "ListSecurityGroupRules",
        Style::Vpc,
        vpc::list_rules,
    ),
    e(
        V,
        "POST",
        "/v1/{pid}/security-group-rules",
        "CreateSecurityGroupRule",
        Style::Vpc,
        vpc::create_rule,
    ),
    e(
        V,
        "GET",
        "/v1/{pid}/security-group-rules/{}",
        "ShowSecurityGroupRule",
        Style::Vpc,
        vpc::show_rule,
    ),
    e(
        V,
        "DELETE",
        "/v1/{pid}/security-group-rules/{}",
        "DeleteSecurityGroupRule",
        Style::Vpc,
        vpc::delete_rule,
    ),
    e(
        V,
        "GET",
        "/v3/{pid}/vpc/security-groups/{}",
        "ShowSecurityGroup",
        Style::VpcV3,
        vpc::show_sg_v3,
    ),
    e(
        V,
        "GET",
        "/v3/{pid}/vpc/security-group-rules",
        "ListSecurityGroupRules",
        Style::VpcV3,
        vpc::list_rules_v3,
    ),
    e(
        V,
        "POST",
        "/v3/{pid}/vpc/security-group-rules",
        "CreateSecurityGroupRule",
        Style::VpcV3,
        vpc::create_rule_v3,
    ),
    e(
        V,
        "GET",
        "/v3/{pid}/vpc/security-group-rules/{}",
        "ShowSecurityGroupRule",
        Style::VpcV3,
        vpc::show_rule_v3,
    ),
    e(
        V,
        "DELETE",
        "/v3/{pid}/vpc/security-group-rules/{}",
        "DeleteSecurityGroupRule",
        Style::VpcV3,
        vpc::delete_rule,
    ),
    e(
        V,
        "POST",
        "/v1/{pid}/publicips",
        "CreatePublicip",
        Style::Vpc,
        vpc::create_eip,
    ),
    e(
        V,
        "GET",
        "/v1/{pid}/publicips",
        "ListPublicips",
        Style::Vpc,
        vpc::list_eips,
    ),
    e(
        V,
        "GET",
        "/v1/{pid}/publicips/{}",
        "ShowPublicip",
        Style::Vpc,
        vpc::show_eip,
    ),
    e(
        V,
        "PUT",
        "/v1/{pid}/publicips/{}",
        "UpdatePublicip",
        Style::Vpc,
        vpc::update_eip,
    ),
    e(
        V,
        "DELETE",
        "/v1/{pid}/publicips/{}",
        "DeletePublicip",
        Style::Vpc,
        vpc::delete_eip,
    ),
    Entry {
        service: None,
        method: "GET",
        pattern: "/_admin/faults",
        op: "AdminListFaults",
        style: Style::Admin,
        handler: admin_list_faults,
    },
    Entry {
        service: None,
        method: "POST",
        pattern: "/_admin/faults",
        op: "AdminAddFaults",
        style: Style::Admin,
        handler: admin_add_faults,
    },
    Entry {
        service: None,
        method: "DELETE",
        pattern: "/_admin/faults",
        op: "AdminClearFaults",
        style: Style::Admin,
        handler: admin_clear_faults,
    },
    Entry {
        service: None,
        method: "GET",
        pattern: "/_admin/inventory",
        op: "AdminInventory",
        style: Style::Admin,
        handler: admin_inventory,
    },
];

/// Finds the operation for a request, or `None` (the gateway's 404).
pub fn route(service: Service, method: &str, path: &str) -> Option<Route> {
    let trimmed = path.trim_end_matches('/');
    let segs: Vec<String> = trimmed
        .split('/')
        .skip(1)
        .map(cce_cloud::signer::decode)
        .collect();
    'entries: for entry in ROUTES {
        if entry.method != method || entry.service.is_some_and(|s| s != service) {
            continue;
        }
        let pat: Vec<&str> = entry.pattern.split('/').skip(1).collect();
        if pat.len() != segs.len() {
            continue;
        }
        let mut params = Vec::new();
        let mut project = None;
        for (p, s) in pat.iter().zip(&segs) {
            match *p {
                "{pid}" => project = Some(s.clone()),
                "{}" => {
                    if s.is_empty() {
                        continue 'entries;
                    }
                    params.push(s.clone())
                }
                lit if lit == s => {}
                _ => continue 'entries,
            }
        }
        return Some(Route {
            style: entry.style,
            op: entry.op,
            handler: entry.handler,
            params,
            project,
            admin: entry.style == Style::Admin,
        });
    }
    None
}

/// The SDK's name of the operation; the batch action path carries two operations.
pub fn op_name(route: &Route, body: &Value) -> &'static str {
    if route.op == "BatchServerTagsAction" {
        match body.get("action").and_then(Value::as_str) {
            Some("create") => return "BatchCreateServerTags",
            Some("delete") => return "BatchDeleteServerTags",
            _ => {}
        }
    }
    if route.op == "BatchServerAction" {
        if body.get("os-stop").is_some() {
            return "BatchStopServers";
        }
        if body.get("os-start").is_some() {
            return "BatchStartServers";
        }
        if body.get("reboot").is_some() {
            return "BatchRebootServers";
        }
    }
    route.op
}

fn admin_list_faults(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    Reply::ok(json!({"faults": ctx.faults.rules()}))
}

fn admin_add_faults(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let set: crate::faults::FaultSet = serde_json::from_value(ctx.body.clone())
        .map_err(|e| ctx.err_code(400, "LC.0001", format!("invalid fault set: {e}")))?;
    ctx.faults.add(set.faults);
    Reply::ok(json!({"faults": ctx.faults.rules()}))
}

fn admin_clear_faults(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.faults.clear();
    Reply::empty(204)
}

fn admin_inventory(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let w = &*ctx.world;
    let now = ctx.now;
    Reply::ok(json!({
        "backend": ctx.backend.name(),
        "servers": w.servers.values().map(|s| json!({"id": s.id, "name": s.name, "status": s.status})).collect::<Vec<_>>(),
        "eips": w.eips.values().map(|e| json!({"id": e.id, "address": e.address, "status": e.status})).collect::<Vec<_>>(),
        "keypairs": w.keypairs.values().map(|k| json!({"name": k.name})).collect::<Vec<_>>(),
        "vpcs": w.vpcs.values().filter(|v| !v.builtin).map(|v| json!({"id": v.id, "name": v.name})).collect::<Vec<_>>(),
        "subnets": w.subnets.values().filter(|s| !s.builtin).map(|s| json!({"id": s.id, "name": s.name})).collect::<Vec<_>>(),
        "images": w.images.values().map(|i| json!({"id": i.id, "name": i.name, "status": i.status})).collect::<Vec<_>>(),
        "jobs": w.jobs.values().filter(|j| matches!(j.status(now), "INIT" | "RUNNING"))
            .map(|j| json!({"id": j.id, "service": j.service, "job_type": j.job_type, "status": j.status(now)})).collect::<Vec<_>>(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_names_every_operation() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("Operations (the SDK's names")
            .expect("the README lists the operations");
        let list = &readme[start..];
        for entry in ROUTES.iter().filter(|e| e.style != Style::Admin) {
            let op = match entry.op {
                "BatchServerAction" => "BatchStopServers",
                "BatchServerTagsAction" => "BatchCreateServerTags",
                op => op,
            };
            assert!(list.contains(&format!("`{op}`")), "README lacks `{op}`");
        }
    }

    #[test]
    fn routes_match_literals_before_params() {
        let r = route(Service::Ecs, "GET", "/v1/p1/cloudservers/detail").unwrap();
        assert_eq!(r.op, "ListServersDetails");
        assert_eq!(r.project.as_deref(), Some("p1"));
        let r = route(Service::Ecs, "GET", "/v1/p1/cloudservers/limits").unwrap();
        assert_eq!(r.op, "ShowServerLimits", "limits is not a server id");
        let r = route(Service::Ecs, "GET", "/v1/p1/cloudservers/tags").unwrap();
        assert_eq!(r.op, "ListServerTags", "tags is not a server id");
        let r = route(Service::Ecs, "GET", "/v2.1/p1/servers/detail").unwrap();
        assert_eq!(r.op, "NovaListServersDetails", "detail is not a server id");
        let r = route(Service::Ecs, "GET", "/v1/p1/cloudservers/abc").unwrap();
        assert_eq!(
            (r.op, r.params.as_slice()),
            ("ShowServer", &["abc".to_string()][..])
        );
        assert_eq!(
            route(Service::Ims, "GET", "/v2/cloudimages/").unwrap().op,
            "ListImages"
        );
        assert_eq!(
            route(Service::Ims, "GET", "/v1/p/jobs/j").unwrap().style,
            Style::Ims
        );
        assert_eq!(
            route(Service::Ecs, "GET", "/v1/p/jobs/j").unwrap().style,
            Style::Ecs
        );
        assert!(
            route(Service::Ecs, "GET", "/v2/cloudimages").is_none(),
            "services do not share paths"
        );
        assert!(route(Service::Ecs, "PATCH", "/v1/p/cloudservers/detail").is_none());
        assert!(route(Service::Vpc, "GET", "/_admin/inventory").is_some());
    }

    #[test]
    fn shapes_refuse_unknown_fields_with_path() {
        static S: Shape = Shape::Obj(&[(
            "server",
            Shape::Obj(&[
                ("name", Shape::Any),
                (
                    "nics",
                    Shape::List(&Shape::Obj(&[("subnet_id", Shape::Any)])),
                ),
            ]),
        )]);
        assert!(
            check_shape(
                &json!({"server": {"name": "x", "nics": [{"subnet_id": "s"}]}}),
                &S,
                ""
            )
            .is_ok()
        );
        let e = check_shape(&json!({"server": {"nics": [{"subnetid": "s"}]}}), &S, "").unwrap_err();
        assert_eq!(
            e,
            "unknown field `server.nics[0].subnetid` (did you mean `subnet_id`?)"
        );
        let e = check_shape(&json!({"server": []}), &S, "").unwrap_err();
        assert_eq!(e, "`server` must be an object");
    }

    #[test]
    fn error_bodies_per_service() {
        assert_eq!(
            error(Style::Ecs, 400, "", "m", "r").body,
            json!({"error": {"code": "Ecs.0005", "message": "m"}})
        );
        assert_eq!(
            error(Style::Nova, 404, "", "m", "r").body,
            json!({"itemNotFound": {"code": 404, "message": "m"}})
        );
        assert_eq!(
            error(Style::VpcV3, 404, "", "m", "r").body["error_code"],
            "VPC.0202"
        );
        assert_eq!(
            error(Style::Iam, 404, "", "m", "r").body["error"]["code"],
            404
        );
    }
}
