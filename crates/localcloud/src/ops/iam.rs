//! IAM (Keystone) operations: the one project of the local cloud and its domain.

use serde_json::{Value, json};

use super::{ApiError, Ctx, Reply};

fn project(ctx: &Ctx) -> Value {
    let w = &*ctx.world;
    json!({
        "id": w.project_id,
        "name": ctx.config.region,
        "domain_id": w.domain_id,
        "parent_id": w.domain_id,
        "enabled": true,
        "is_domain": false,
        "description": "",
        "links": {"self": format!("/v3/projects/{}", w.project_id)},
    })
}

fn projects_matching(ctx: &Ctx) -> Vec<Value> {
    let p = project(ctx);
    let keep = ctx.q("name").is_none_or(|n| n == ctx.config.region)
        && ctx.q("domain_id").is_none_or(|d| d == ctx.world.domain_id)
        && ctx.q("enabled").is_none_or(|e| e == "true")
        && ctx.q("is_domain").is_none_or(|e| e == "false");
    if keep { vec![p] } else { vec![] }
}

pub fn list_projects(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    Reply::ok(
        json!({"links": {"self": "/v3/projects", "previous": null, "next": null}, "projects": projects_matching(ctx)}),
    )
}

pub fn list_auth_projects(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    Reply::ok(
        json!({"links": {"self": "/v3/auth/projects", "previous": null, "next": null}, "projects": [project(ctx)]}),
    )
}

pub fn list_auth_domains(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let w = &*ctx.world;
    Reply::ok(json!({
        "links": {"self": "/v3/auth/domains", "previous": null, "next": null},
        "domains": [{"id": w.domain_id, "name": "localcloud", "enabled": true, "description": "", "links": {"self": format!("/v3/domains/{}", w.domain_id)}}],
    }))
}

pub fn show_project(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param(0).to_string();
    if id != ctx.world.project_id {
        return Err(ctx.err(
            404,
            format!(
                "could not find project: {id}: the local cloud has one project, {}",
                ctx.world.project_id
            ),
        ));
    }
    Reply::ok(json!({"project": project(ctx)}))
}

/// The one region: the project is named after it, as on the real cloud.
fn region(ctx: &Ctx) -> Value {
    let r = &ctx.config.region;
    json!({
        "id": r, "type": "public", "description": "", "parent_region_id": null,
        "locales": {"en-us": r, "zh-cn": r},
        "links": {"self": format!("/v3/regions/{r}")},
    })
}

pub fn list_regions(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    Reply::ok(json!({
        "links": {"self": "/v3/regions", "previous": null, "next": null},
        "regions": [region(ctx)],
    }))
}

pub fn show_region(ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param(0).to_string();
    if id != ctx.config.region {
        return Err(ctx.err(
            404,
            format!(
                "could not find region: {id}: the local cloud serves {}",
                ctx.config.region
            ),
        ));
    }
    Reply::ok(json!({"region": region(ctx)}))
}
