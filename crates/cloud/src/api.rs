//! The typed calls of IAM, ECS, IMS, VPC and EIP, one method each, with the paths and bodies of
//! the reference. Creates go through `create_or_find` so an ambiguous failure never makes a
//! second resource.

use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Call, Client, decode};
use crate::endpoints::Service;
use crate::error::CloudError;
use crate::models::*;

fn enc(s: &str) -> String {
    crate::signer::encode(s)
}

/// Page size of the VPC v1 lists.
const PAGE: usize = 100;

/// Follows `limit`/`marker` pages (marker = last id) until a short page. Stops early if the server
/// ignores the marker, and drops repeated ids, so a list never loops or doubles.
async fn collect_pages<T, F, Fut>(mut page: F, id: impl Fn(&T) -> &str) -> Result<Vec<T>, CloudError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, CloudError>>,
{
    let mut all: Vec<T> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut marker: Option<String> = None;
    for _ in 0..1000 {
        let items = page(marker.clone()).await?;
        let full = items.len() >= PAGE;
        let last = items.last().map(|t| id(t).to_string());
        let mut new = 0;
        for item in items {
            if seen.insert(id(&item).to_string()) {
                all.push(item);
                new += 1;
            }
        }
        if !full || new == 0 || last.is_none() || last == marker {
            break;
        }
        marker = last;
    }
    Ok(all)
}

impl Client {
    // ------------------------------------------------------------ IAM

    /// `GET /v3/projects?name=`: the id of the one project with that name (0 or >1 is an error,
    /// as in the SDK). Signed without `X-Project-Id`.
    pub async fn list_projects(&self, name: &str) -> Result<Vec<Project>, CloudError> {
        let call = Call::new(Service::Iam, "list projects", Method::GET, "/v3/projects").query("name", name).unscoped();
        Ok(self.send_json::<ProjectList>(&call).await?.projects)
    }

    /// The project id of `name`, and a client scoped to it.
    pub async fn resolve_project(&self, name: &str) -> Result<(String, Client), CloudError> {
        let projects = self.list_projects(name).await?;
        let exact: Vec<&Project> = projects.iter().filter(|p| p.name == name).collect();
        match exact.as_slice() {
            [one] => Ok((one.id.clone(), self.with_project_id(&one.id))),
            [] => Err(CloudError::NotFound(format!(
                "iam list projects: no project named {name:?} in region {}: set project_name or project_id to an existing project",
                self.region()
            ))),
            many => Err(CloudError::Config(format!(
                "iam list projects: {} projects are named {name:?}: set project_id explicitly",
                many.len()
            ))),
        }
    }

    // ------------------------------------------------------------ ECS

    fn ecs(&self, op: &'static str, method: Method, suffix: &str) -> Result<Call, CloudError> {
        let pid = self.pid(Service::Ecs, op)?;
        Ok(Call::new(Service::Ecs, op, method, format!("/v1/{}{suffix}", enc(pid))))
    }

    async fn create_server_at(&self, version: &str, server: &ServerCreate, charging: Value) -> Result<CreateServerResponse, CloudError> {
        let op = "create server";
        let pid = self.pid(Service::Ecs, op)?;
        let mut server = server.clone();
        server.extendparam.entry("chargingMode").or_insert(charging);
        let call = Call::new(Service::Ecs, op, Method::POST, format!("/{version}/{}/cloudservers", enc(pid))).json(&json!({"server": server}))?;
        let name = server.name.clone();
        self.create_or_find(
            &call,
            "server",
            &server.name,
            |resp| decode(&call, resp),
            || async {
                let q = ServerQuery { name: Some(name.clone()), ..Default::default() };
                let found = self.list_servers(&q).await?;
                Ok(found.servers.into_iter().find(|s| s.name == name && s.status != "DELETED").map(|s| CreateServerResponse {
                    job_id: None,
                    server_ids: vec![s.id],
                    order_id: None,
                }))
            },
        )
        .await
    }

    /// `POST /v1/{pid}/cloudservers` (postpaid, what the plugin uses). After an ambiguous failure
    /// the server is looked up by name; then `job_id` is `None` and `server_ids` holds it.
    pub async fn create_server_v1(&self, server: &ServerCreate) -> Result<CreateServerResponse, CloudError> {
        self.create_server_at("v1", server, json!(0)).await
    }

    /// `POST /v1.1/{pid}/cloudservers`.
    pub async fn create_server_v1_1(&self, server: &ServerCreate) -> Result<CreateServerResponse, CloudError> {
        self.create_server_at("v1.1", server, json!("postPaid")).await
    }

    pub async fn show_server(&self, server_id: &str) -> Result<Server, CloudError> {
        let call = self.ecs("show server", Method::GET, &format!("/cloudservers/{}", enc(server_id)))?;
        Ok(self.send_json::<ServerEnvelope>(&call).await?.server)
    }

    /// `GET /v1/{pid}/cloudservers/detail` with filters.
    pub async fn list_servers(&self, q: &ServerQuery) -> Result<ServerList, CloudError> {
        let call = self
            .ecs("list servers", Method::GET, "/cloudservers/detail")?
            .query_opt("name", q.name.as_ref())
            .query_opt("status", q.status.as_ref())
            .query_opt("flavor", q.flavor.as_ref())
            .query_opt("ip", q.ip.as_ref())
            .query_opt("tags", q.tags.as_ref())
            .query_opt("enterprise_project_id", q.enterprise_project_id.as_ref())
            .query_opt("limit", q.limit)
            .query_opt("offset", q.offset)
            .query_opt("marker", q.marker.as_ref());
        self.send_json(&call).await
    }

    async fn server_action(&self, op: &'static str, body: Value) -> Result<String, CloudError> {
        let call = self.ecs(op, Method::POST, "/cloudservers/action")?.json(&body)?;
        Ok(self.send_json::<JobResponse>(&call).await?.job_id)
    }

    /// Batch stop; returns the job id. `hard` = HARD, else SOFT.
    pub async fn stop_servers(&self, ids: &[&str], hard: bool) -> Result<String, CloudError> {
        let servers: Vec<Value> = ids.iter().map(|id| json!({"id": id})).collect();
        self.server_action("stop servers", json!({"os-stop": {"type": if hard {"HARD"} else {"SOFT"}, "servers": servers}})).await
    }

    /// Batch start; returns the job id.
    pub async fn start_servers(&self, ids: &[&str]) -> Result<String, CloudError> {
        let servers: Vec<Value> = ids.iter().map(|id| json!({"id": id})).collect();
        self.server_action("start servers", json!({"os-start": {"servers": servers}})).await
    }

    /// `POST /v1/{pid}/cloudservers/delete`; returns the job id.
    pub async fn delete_servers(&self, ids: &[&str], delete_publicip: bool, delete_volume: bool) -> Result<String, CloudError> {
        let servers: Vec<Value> = ids.iter().map(|id| json!({"id": id})).collect();
        let body = json!({"servers": servers, "delete_publicip": delete_publicip, "delete_volume": delete_volume});
        let call = self.ecs("delete servers", Method::POST, "/cloudservers/delete")?.json(&body)?;
        Ok(self.send_json::<JobResponse>(&call).await?.job_id)
    }

    /// `GET /v1/{pid}/jobs/{id}` on the ECS or IMS host.
    pub async fn show_job(&self, service: Service, job_id: &str) -> Result<Job, CloudError> {
        let op = "show job";
        let pid = self.pid(service, op)?;
        let call = Call::new(service, op, Method::GET, format!("/v1/{}/jobs/{}", enc(pid), enc(job_id)));
        self.send_json(&call).await
    }

    pub async fn list_flavors(&self, availability_zone: Option<&str>) -> Result<Vec<Flavor>, CloudError> {
        let call = self.ecs("list flavors", Method::GET, "/cloudservers/flavors")?.query_opt("availability_zone", availability_zone);
        Ok(self.send_json::<FlavorList>(&call).await?.flavors)
    }

    /// Nova `GET /v2.1/{pid}/os-availability-zone`.
    pub async fn list_availability_zones(&self) -> Result<Vec<AvailabilityZone>, CloudError> {
        let op = "list availability zones";
        let pid = self.pid(Service::Ecs, op)?;
        let call = Call::new(Service::Ecs, op, Method::GET, format!("/v2.1/{}/os-availability-zone", enc(pid)));
        let zones: NovaZones = self.send_json(&call).await?;
        Ok(zones
            .info
            .into_iter()
            .map(|z| AvailabilityZone { name: z.zone_name, available: z.zone_state.is_some_and(|s| s.available) })
            .collect())
    }

    /// ECS `GET /v1/{pid}/availability-zones`.
    pub async fn list_availability_zones_v1(&self) -> Result<Vec<AvailabilityZoneV1>, CloudError> {
        let call = self.ecs("list availability zones", Method::GET, "/availability-zones")?;
        Ok(self.send_json::<ZonesV1>(&call).await?.availability_zones)
    }

    /// `GET /v1/{pid}/cloudservers/{id}/os-interface`.
    pub async fn list_interfaces(&self, server_id: &str) -> Result<Vec<Interface>, CloudError> {
        let call = self.ecs("list interfaces", Method::GET, &format!("/cloudservers/{}/os-interface", enc(server_id)))?;
        Ok(self.send_json::<Interfaces>(&call).await?.attachments)
    }

    fn keypairs(&self, op: &'static str, method: Method, suffix: &str) -> Result<Call, CloudError> {
        let pid = self.pid(Service::Ecs, op)?;
        Ok(Call::new(Service::Ecs, op, method, format!("/v2.1/{}/os-keypairs{suffix}", enc(pid))))
    }

    /// Creates a key pair: generated by the cloud (`private_key` in the answer) when
    /// `public_key` is `None`, else imported. After an ambiguous failure an existing pair of that
    /// name is returned (without a private key).
    pub async fn create_keypair(&self, name: &str, public_key: Option<&str>) -> Result<Keypair, CloudError> {
        let mut kp = json!({"name": name, "type": "ssh"});
        if let Some(pk) = public_key {
            kp["public_key"] = Value::String(pk.to_string());
        }
        let call = self.keypairs("create keypair", Method::POST, "")?.json(&json!({"keypair": kp}))?;
        self.create_or_find(
            &call,
            "keypair",
            name,
            |resp| Ok(decode::<KeypairEnvelope>(&call, resp)?.keypair),
            || async {
                match self.show_keypair(name).await {
                    Ok(k) => Ok(Some(k)),
                    Err(e) if e.is_not_found() => Ok(None),
                    Err(e) => Err(e),
                }
            },
        )
        .await
    }

    pub async fn show_keypair(&self, name: &str) -> Result<Keypair, CloudError> {
        let call = self.keypairs("show keypair", Method::GET, &format!("/{}", enc(name)))?;
        Ok(self.send_json::<KeypairEnvelope>(&call).await?.keypair)
    }

    pub async fn list_keypairs(&self) -> Result<Vec<Keypair>, CloudError> {
        let call = self.keypairs("list keypairs", Method::GET, "")?;
        Ok(self.send_json::<KeypairList>(&call).await?.keypairs.into_iter().map(|k| k.keypair).collect())
    }

    pub async fn delete_keypair(&self, name: &str) -> Result<(), CloudError> {
        let call = self.keypairs("delete keypair", Method::DELETE, &format!("/{}", enc(name)))?;
        self.send(&call).await.map(|_| ())
    }

    // ------------------------------------------------------------ IMS

    /// `POST /v2/cloudimages/action`. After an ambiguous failure an image of that name is looked
    /// up; then the job is unknown but the image exists.
    pub async fn create_image(&self, image: &ImageCreate) -> Result<CreatedImage, CloudError> {
        let call = Call::new(Service::Ims, "create image", Method::POST, "/v2/cloudimages/action").json(image)?;
        let name = image.name.clone();
        self.create_or_find(
            &call,
            "image",
            &image.name,
            |resp| Ok(CreatedImage::Job(decode::<JobResponse>(&call, resp)?.job_id)),
            || async {
                let q = ImageQuery { name: Some(name.clone()), image_type: Some("private".into()), ..Default::default() };
                let images = self.list_images(&q).await?;
                Ok(images.into_iter().find(|i| i.name == name && i.status != "deleted").map(|i| CreatedImage::Existing(i.id)))
            },
        )
        .await
    }

    /// `GET /v2/cloudimages` with filters.
    pub async fn list_images(&self, q: &ImageQuery) -> Result<Vec<Image>, CloudError> {
        let mut call = Call::new(Service::Ims, "list images", Method::GET, "/v2/cloudimages")
            .query_opt("id", q.id.as_ref())
            .query_opt("name", q.name.as_ref())
            .query_opt("status", q.status.as_ref())
            .query_opt("__imagetype", q.image_type.as_ref())
            .query_opt("visibility", q.visibility.as_ref())
            .query_opt("owner", q.owner.as_ref())
            .query_opt("tag", q.tag.as_ref())
            .query_opt("limit", q.limit)
            .query_opt("marker", q.marker.as_ref())
            .query_opt("sort_key", q.sort_key.as_ref())
            .query_opt("sort_dir", q.sort_dir.as_ref());
        call.query.extend(q.other.iter().cloned());
        Ok(self.send_json::<ImageList>(&call).await?.images)
    }

    /// The image with that id, `None` if it does not exist.
    pub async fn show_image(&self, image_id: &str) -> Result<Option<Image>, CloudError> {
        let q = ImageQuery { id: Some(image_id.to_string()), ..Default::default() };
        Ok(self.list_images(&q).await?.into_iter().find(|i| i.id == image_id))
    }

    fn image_tags(&self, op: &'static str, method: Method, image_id: &str, suffix: &str) -> Result<Call, CloudError> {
        let pid = self.pid(Service::Ims, op)?;
        Ok(Call::new(Service::Ims, op, method, format!("/v2/{}/images/{}/tags{suffix}", enc(pid), enc(image_id))))
    }

    /// Adds tags in one batch (`tags/action` create).
    pub async fn add_image_tags(&self, image_id: &str, tags: &[Tag]) -> Result<(), CloudError> {
        let call = self.image_tags("add image tags", Method::POST, image_id, "/action")?.json(&json!({"action": "create", "tags": tags}))?;
        self.send(&call).await.map(|_| ())
    }

    pub async fn list_image_tags(&self, image_id: &str) -> Result<Vec<Tag>, CloudError> {
        let call = self.image_tags("list image tags", Method::GET, image_id, "")?;
        Ok(self.send_json::<TagList>(&call).await?.tags)
    }

    /// `POST /v1/cloudimages/members`; returns the IMS job id.
    pub async fn add_image_members(&self, image_ids: &[&str], project_ids: &[&str]) -> Result<String, CloudError> {
        let call = Call::new(Service::Ims, "add image members", Method::POST, "/v1/cloudimages/members")
            .json(&json!({"images": image_ids, "projects": project_ids}))?;
        Ok(self.send_json::<JobResponse>(&call).await?.job_id)
    }

    /// `PATCH /v2/cloudimages/{id}` replacing `/min_disk` (GB); returns the updated image.
    pub async fn update_image_min_disk(&self, image_id: &str, min_disk: u32) -> Result<Image, CloudError> {
        let call = Call::new(Service::Ims, "update image", Method::PATCH, format!("/v2/cloudimages/{}", enc(image_id)))
            .json(&json!([{"op": "replace", "path": "/min_disk", "value": min_disk}]))?;
        self.send_json::<Image>(&call).await
    }

    /// `DELETE /v2/images/{id}`.
    pub async fn delete_image(&self, image_id: &str) -> Result<(), CloudError> {
        let call = Call::new(Service::Ims, "delete image", Method::DELETE, format!("/v2/images/{}", enc(image_id)));
        self.send(&call).await.map(|_| ())
    }

    // ------------------------------------------------------------ VPC

    fn vpc(&self, op: &'static str, method: Method, suffix: &str) -> Result<Call, CloudError> {
        let pid = self.pid(Service::Vpc, op)?;
        Ok(Call::new(Service::Vpc, op, method, format!("/v1/{}{suffix}", enc(pid))))
    }

    pub async fn show_vpc(&self, vpc_id: &str) -> Result<Vpc, CloudError> {
        let call = self.vpc("show vpc", Method::GET, &format!("/vpcs/{}", enc(vpc_id)))?;
        Ok(self.send_json::<VpcEnvelope>(&call).await?.vpc)
    }

    /// Every VPC of the project (all pages).
    pub async fn list_vpcs(&self) -> Result<Vec<Vpc>, CloudError> {
        let base = self.vpc("list vpcs", Method::GET, "/vpcs")?.query("limit", PAGE);
        collect_pages(
            |marker| {
                let call = base.clone().query_opt("marker", marker);
                async move { Ok(self.send_json::<VpcList>(&call).await?.vpcs) }
            },
            |v: &Vpc| v.id.as_str(),
        )
        .await
    }

    /// Creates a VPC; after an ambiguous failure a VPC of that name is returned if one exists.
    pub async fn create_vpc(&self, vpc: &VpcCreate) -> Result<Vpc, CloudError> {
        let call = self.vpc("create vpc", Method::POST, "/vpcs")?.json(&json!({"vpc": vpc}))?;
        self.create_or_find(
            &call,
            "vpc",
            &vpc.name,
            |resp| Ok(decode::<VpcEnvelope>(&call, resp)?.vpc),
            || async { Ok(self.list_vpcs().await?.into_iter().find(|v| v.name == vpc.name)) },
        )
        .await
    }

    pub async fn delete_vpc(&self, vpc_id: &str) -> Result<(), CloudError> {
        let call = self.vpc("delete vpc", Method::DELETE, &format!("/vpcs/{}", enc(vpc_id)))?;
        self.send(&call).await.map(|_| ())
    }

    /// Every subnet (of one VPC if given), all pages.
    pub async fn list_subnets(&self, vpc_id: Option<&str>) -> Result<Vec<Subnet>, CloudError> {
        let base = self.vpc("list subnets", Method::GET, "/subnets")?.query_opt("vpc_id", vpc_id).query("limit", PAGE);
        collect_pages(
            |marker| {
                let call = base.clone().query_opt("marker", marker);
                async move { Ok(self.send_json::<SubnetList>(&call).await?.subnets) }
            },
            |s: &Subnet| s.id.as_str(),
        )
        .await
    }

    pub async fn show_subnet(&self, subnet_id: &str) -> Result<Subnet, CloudError> {
        let call = self.vpc("show subnet", Method::GET, &format!("/subnets/{}", enc(subnet_id)))?;
        Ok(self.send_json::<SubnetEnvelope>(&call).await?.subnet)
    }

    /// Creates a subnet; after an ambiguous failure a subnet of that name in the VPC is returned.
    pub async fn create_subnet(&self, subnet: &SubnetCreate) -> Result<Subnet, CloudError> {
        let call = self.vpc("create subnet", Method::POST, "/subnets")?.json(&json!({"subnet": subnet}))?;
        self.create_or_find(
            &call,
            "subnet",
            &subnet.name,
            |resp| Ok(decode::<SubnetEnvelope>(&call, resp)?.subnet),
            || async { Ok(self.list_subnets(Some(&subnet.vpc_id)).await?.into_iter().find(|s| s.name == subnet.name)) },
        )
        .await
    }

    /// `DELETE /v1/{pid}/vpcs/{vpc}/subnets/{id}`.
    pub async fn delete_subnet(&self, vpc_id: &str, subnet_id: &str) -> Result<(), CloudError> {
        let call = self.vpc("delete subnet", Method::DELETE, &format!("/vpcs/{}/subnets/{}", enc(vpc_id), enc(subnet_id)))?;
        self.send(&call).await.map(|_| ())
    }

    pub async fn show_security_group(&self, sg_id: &str) -> Result<SecurityGroup, CloudError> {
        let call = self.vpc("show security group", Method::GET, &format!("/security-groups/{}", enc(sg_id)))?;
        Ok(self.send_json::<SecurityGroupEnvelope>(&call).await?.security_group)
    }

    /// Every v1 security group of the project (all pages), to resolve groups given by name.
    pub async fn list_security_groups(&self) -> Result<Vec<SecurityGroup>, CloudError> {
        let base = self.vpc("list security groups", Method::GET, "/security-groups")?.query("limit", PAGE);
        collect_pages(
            |marker| {
                let call = base.clone().query_opt("marker", marker);
                async move { Ok(self.send_json::<SecurityGroupList>(&call).await?.security_groups) }
            },
            |g: &SecurityGroup| g.id.as_str(),
        )
        .await
    }

    pub async fn list_security_group_rules(&self, sg_id: &str) -> Result<Vec<SecurityGroupRule>, CloudError> {
        let call = self.vpc("list security group rules", Method::GET, "/security-group-rules")?.query("security_group_id", sg_id);
        Ok(self.send_json::<RuleList>(&call).await?.security_group_rules)
    }

    /// Creates a v1 rule (not retried: a rule has no name to look it up by).
    pub async fn create_security_group_rule(&self, rule: &SecurityGroupRule) -> Result<SecurityGroupRule, CloudError> {
        let call = self.vpc("create security group rule", Method::POST, "/security-group-rules")?.json(&json!({"security_group_rule": rule}))?;
        Ok(self.send_json::<RuleEnvelope>(&call).await?.security_group_rule)
    }

    fn vpc_v3(&self, op: &'static str, method: Method, suffix: &str) -> Result<Call, CloudError> {
        let pid = self.pid(Service::Vpc, op)?;
        Ok(Call::new(Service::Vpc, op, method, format!("/v3/{}/vpc{suffix}", enc(pid))))
    }

    pub async fn show_security_group_v3(&self, sg_id: &str) -> Result<SecurityGroupV3, CloudError> {
        let call = self.vpc_v3("show security group", Method::GET, &format!("/security-groups/{}", enc(sg_id)))?;
        Ok(self.send_json::<SecurityGroupV3Envelope>(&call).await?.security_group)
    }

    pub async fn list_security_group_rules_v3(&self, sg_id: &str, direction: Option<&str>) -> Result<Vec<SecurityGroupRuleV3>, CloudError> {
        let call = self
            .vpc_v3("list security group rules", Method::GET, "/security-group-rules")?
            .query("security_group_id", sg_id)
            .query_opt("direction", direction);
        Ok(self.send_json::<RuleV3List>(&call).await?.security_group_rules)
    }

    pub async fn create_security_group_rule_v3(&self, rule: &SecurityGroupRuleV3) -> Result<SecurityGroupRuleV3, CloudError> {
        let call = self
            .vpc_v3("create security group rule", Method::POST, "/security-group-rules")?
            .json(&json!({"security_group_rule": rule}))?;
        Ok(self.send_json::<RuleV3Envelope>(&call).await?.security_group_rule)
    }

    // ------------------------------------------------------------ EIP

    /// Every EIP of the project (all pages).
    pub async fn list_eips(&self) -> Result<Vec<PublicIp>, CloudError> {
        let base = self.vpc("list eips", Method::GET, "/publicips")?.query("limit", PAGE);
        collect_pages(
            |marker| {
                let call = base.clone().query_opt("marker", marker);
                async move { Ok(self.send_json::<PublicIpList>(&call).await?.publicips) }
            },
            |e: &PublicIp| e.id.as_str(),
        )
        .await
    }

    /// Creates an EIP; after an ambiguous failure an EIP with the same alias is returned.
    pub async fn create_eip(&self, eip: &EipCreate) -> Result<PublicIp, CloudError> {
        let call = self.vpc("create eip", Method::POST, "/publicips")?.json(&eip.body())?;
        let Some(alias) = eip.alias.clone() else {
            // Without an alias there is nothing to look it up by: never guess.
            let resp = self.send(&call).await?;
            return Ok(decode::<PublicIpEnvelope>(&call, &resp)?.publicip);
        };
        self.create_or_find(
            &call,
            "eip",
            &alias,
            |resp| Ok(decode::<PublicIpEnvelope>(&call, resp)?.publicip),
            || async { Ok(self.list_eips().await?.into_iter().find(|e| e.alias.as_deref() == Some(alias.as_str()))) },
        )
        .await
    }

    pub async fn show_eip(&self, eip_id: &str) -> Result<PublicIp, CloudError> {
        let call = self.vpc("show eip", Method::GET, &format!("/publicips/{}", enc(eip_id)))?;
        Ok(self.send_json::<PublicIpEnvelope>(&call).await?.publicip)
    }

    /// Binds the EIP to a port (`None` unbinds).
    pub async fn update_eip_port(&self, eip_id: &str, port_id: Option<&str>) -> Result<PublicIp, CloudError> {
        let call = self.vpc("update eip", Method::PUT, &format!("/publicips/{}", enc(eip_id)))?.json(&json!({"publicip": {"port_id": port_id}}))?;
        Ok(self.send_json::<PublicIpEnvelope>(&call).await?.publicip)
    }

    pub async fn delete_eip(&self, eip_id: &str) -> Result<(), CloudError> {
        let call = self.vpc("delete eip", Method::DELETE, &format!("/publicips/{}", enc(eip_id)))?;
        self.send(&call).await.map(|_| ())
    }
}
