#!/usr/bin/env python3
"""Drives the local cloud with the official Huawei Cloud Python SDK (3.1.219): its own clients,
models and request signing, so the local cloud is held to what the SDK sends and expects.

Two phases, so the caller can restart the local cloud in between:

    scenario.py build READY_JSON OUT_JSON    # everything, then writes ids to OUT_JSON
    scenario.py reload READY_JSON OUT_JSON   # after a restart: state is still there

READY_JSON is the line `cce-image-builder localcloud serve` prints. Exits non-zero on the first
failed check, naming it.
"""

import datetime
import json
import sys
import time

from huaweicloudsdkcore.auth.credentials import BasicCredentials, GlobalCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig

from huaweicloudsdkecs.v2 import EcsClient
from huaweicloudsdkecs.v2 import model as ecs
from huaweicloudsdkeip.v2 import EipClient
from huaweicloudsdkeip.v2 import model as eip
from huaweicloudsdkeip.v3 import EipClient as EipV3Client
from huaweicloudsdkeip.v3 import model as eip3
from huaweicloudsdkiam.v3 import IamClient
from huaweicloudsdkiam.v3 import model as iam
from huaweicloudsdkims.v2 import ImsClient
from huaweicloudsdkims.v2 import model as ims
from huaweicloudsdkvpc.v2 import VpcClient
from huaweicloudsdkvpc.v2 import model as vpc2
from huaweicloudsdkvpc.v3 import VpcClient as VpcV3Client
from huaweicloudsdkvpc.v3 import model as vpc3

JOB_TIMEOUT_S = 60


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def http_config():
    cfg = HttpConfig.get_default_config()
    cfg.timeout = (5, 30)
    return cfg


def clients(ready, ak=None, sk=None):
    ak = ak or ready["access_key"]
    sk = sk or ready["secret_key"]
    pid = ready["project_id"]
    ep = ready["endpoints"]
    basic = BasicCredentials(ak, sk, pid)

    def build(cls, creds, url):
        return cls.new_builder().with_http_config(http_config()).with_credentials(creds).with_endpoints([url]).build()

    return {
        "iam": build(IamClient, GlobalCredentials(ak, sk, ready["domain_id"]), ep["iam"]),
        "ecs": build(EcsClient, basic, ep["ecs"]),
        "ims": build(ImsClient, basic, ep["ims"]),
        "vpc": build(VpcClient, basic, ep["vpc"]),
        "vpc3": build(VpcV3Client, basic, ep["vpc"]),
        "eip": build(EipClient, basic, ep["vpc"]),
        "eip3": build(EipV3Client, basic, ep["vpc"]),
    }


def wait_job(client, request_cls, job_id, want="SUCCESS"):
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        job = client.show_job(request_cls(job_id=job_id))
        if job.status in ("SUCCESS", "FAIL"):
            check(job.status == want, f"job {job_id} ended {job.status}: {job.fail_reason}")
            return job
        check(time.monotonic() < deadline, f"job {job_id} still {job.status} after {JOB_TIMEOUT_S} s")
        time.sleep(0.05)


def expect_client_error(fn, status, code, what):
    try:
        fn()
    except ClientRequestException as e:
        check(e.status_code == status, f"{what}: status {e.status_code}, want {status}")
        check(code is None or e.error_code == code, f"{what}: error_code {e.error_code}, want {code}")
        check(bool(e.request_id), f"{what}: the SDK read no request id")
        return e
    raise AssertionError(f"{what}: no error raised")


def phase_build(ready, out_path):
    c = clients(ready)
    pid = ready["project_id"]

    # IAM: the project by name, as the SDK's auto-resolution and the builder do.
    projects = c["iam"].keystone_list_projects(iam.KeystoneListProjectsRequest(name=ready["region"])).projects
    check(len(projects) == 1 and projects[0].id == pid, f"project lookup: {projects}")
    auth_projects = c["iam"].keystone_list_auth_projects(iam.KeystoneListAuthProjectsRequest()).projects
    check(any(p.name == ready["region"] for p in auth_projects), "auth projects list the region's project")
    shown_project = c["iam"].keystone_show_project(iam.KeystoneShowProjectRequest(project_id=pid)).project
    check(shown_project.name == ready["region"], f"project shown by id: {shown_project}")
    expect_client_error(lambda: c["iam"].keystone_show_project(iam.KeystoneShowProjectRequest(project_id="0" * 32)),
                        404, 404, "another project")
    regions = c["iam"].keystone_list_regions(iam.KeystoneListRegionsRequest()).regions
    check([r.id for r in regions] == [ready["region"]], f"regions: {regions}")
    region = c["iam"].keystone_show_region(iam.KeystoneShowRegionRequest(region_id=ready["region"])).region
    check(region.id == ready["region"] and region.type == "public", f"region shown: {region}")

    # Zones and flavors.
    zones = c["ecs"].nova_list_availability_zones(ecs.NovaListAvailabilityZonesRequest()).availability_zone_info
    names = [z.zone_name for z in zones]
    check(names == ["ru-moscow-1a", "ru-moscow-1b", "ru-moscow-1c", "ru-moscow-1e"], f"zones: {names}")
    check(all(z.zone_state.available for z in zones), "every zone is available")
    az_info = c["ecs"].list_server_az_info(ecs.ListServerAzInfoRequest()).availability_zones
    check(len(az_info) == 4, "v1 zones")
    flavors = c["ecs"].list_flavors(ecs.ListFlavorsRequest(availability_zone="ru-moscow-1a")).flavors
    s7n = [f for f in flavors if f.id == "s7n.large.2"]
    check(len(s7n) == 1 and s7n[0].vcpus == "2" and s7n[0].ram == 4096, "flavor s7n.large.2: vcpus string, ram int")

    # Network: the default VPC, its subnet and the two security groups.
    subnets = c["vpc"].list_subnets(vpc2.ListSubnetsRequest()).subnets
    subnet = subnets[0]
    check(subnet.id == subnet.neutron_network_id, "v1 subnet id is the network id")
    check(subnet.status == "ACTIVE", "default subnet is ACTIVE")
    groups = c["vpc"].list_security_groups(vpc2.ListSecurityGroupsRequest()).security_groups
    default_sg = next(g for g in groups if g.name == "default")
    no_ssh = next(g for g in groups if g.name == "sg-no-ssh")

    def admits_ssh_v1(group_id):
        g = c["vpc"].show_security_group(vpc2.ShowSecurityGroupRequest(security_group_id=group_id)).security_group
        return any(r.direction == "ingress" and r.protocol in ("tcp", None)
                   and (r.port_range_min is None or r.port_range_min <= 22 <= r.port_range_max)
                   for r in g.security_group_rules)

    check(admits_ssh_v1(default_sg.id), "default group admits SSH")
    check(not admits_ssh_v1(no_ssh.id), "sg-no-ssh does not admit SSH")
    # Security group rules, v1 then v3.
    rule = c["vpc"].create_security_group_rule(vpc2.CreateSecurityGroupRuleRequest(
        body=vpc2.CreateSecurityGroupRuleRequestBody(security_group_rule=vpc2.CreateSecurityGroupRuleOption(
            security_group_id=no_ssh.id, direction="ingress", ethertype="IPv4", protocol="tcp",
            port_range_min=8080, port_range_max=8081, remote_ip_prefix="10.0.0.0/8")))).security_group_rule
    check(rule.port_range_min == 8080 and rule.security_group_id == no_ssh.id, "v1 rule created")
    rule3 = c["vpc3"].create_security_group_rule(vpc3.CreateSecurityGroupRuleRequest(
        body=vpc3.CreateSecurityGroupRuleRequestBody(security_group_rule=vpc3.CreateSecurityGroupRuleOption(
            security_group_id=no_ssh.id, direction="ingress", ethertype="IPv4", protocol="tcp",
            multiport="22", remote_ip_prefix="0.0.0.0/0", action="allow", priority=1)))).security_group_rule
    check(rule3.multiport == "22" and rule3.action == "allow", "v3 rule created")
    listed3 = c["vpc3"].list_security_group_rules(vpc3.ListSecurityGroupRulesRequest(security_group_id=[no_ssh.id]))
    check(any(r.id == rule3.id for r in listed3.security_group_rules), "v3 rule listed")
    check(admits_ssh_v1(no_ssh.id), "after the v3 rule, sg-no-ssh admits SSH in the v1 view")
    g3 = c["vpc3"].show_security_group(vpc3.ShowSecurityGroupRequest(security_group_id=no_ssh.id)).security_group
    check(len(g3.security_group_rules) == 4, f"v3 group shows its rules: {len(g3.security_group_rules)}")
    # Groups of one's own, v1 and v3: the cloud's default rules (all egress, ingress from the
    # group itself), so no SSH from outside until a rule says so.
    own = c["vpc"].create_security_group(vpc2.CreateSecurityGroupRequest(
        body=vpc2.CreateSecurityGroupRequestBody(security_group=vpc2.CreateSecurityGroupOption(
            name="packer-sg-1", vpc_id=subnet.vpc_id)))).security_group
    check(own.name == "packer-sg-1" and own.vpc_id == subnet.vpc_id, f"v1 group created: {own}")
    check(sorted((r.direction, r.ethertype) for r in own.security_group_rules)
          == [("egress", "IPv4"), ("egress", "IPv6"), ("ingress", "IPv4"), ("ingress", "IPv6")],
          f"a new group's default rules: {own.security_group_rules}")
    check(all(r.remote_group_id == own.id for r in own.security_group_rules if r.direction == "ingress"),
          "a new group admits only its own members")
    own3 = c["vpc3"].create_security_group(vpc3.CreateSecurityGroupRequest(
        body=vpc3.CreateSecurityGroupRequestBody(security_group=vpc3.CreateSecurityGroupOption(
            name="packer-sg-3", description="made by the SDK scenario")))).security_group
    check(len(own3.security_group_rules) == 4, f"v3 group created with its rules: {own3}")
    listed = c["vpc3"].list_security_groups(vpc3.ListSecurityGroupsRequest(name=["packer-sg-3"])).security_groups
    check([g.id for g in listed] == [own3.id], f"v3 groups by name: {listed}")
    check(len(c["vpc3"].list_security_groups(vpc3.ListSecurityGroupsRequest()).security_groups) == 4,
          "v3 lists the two built-in groups and the two new ones")
    c["vpc3"].delete_security_group(vpc3.DeleteSecurityGroupRequest(security_group_id=own3.id))
    expect_client_error(lambda: c["vpc3"].show_security_group(vpc3.ShowSecurityGroupRequest(security_group_id=own3.id)),
                        404, "VPC.0202", "a deleted v3 group")
    expect_client_error(lambda: c["vpc"].delete_security_group(vpc2.DeleteSecurityGroupRequest(security_group_id=default_sg.id)),
                        409, "VPC.0204", "the built-in default group")

    # Keypair generated by the cloud: the private key comes back once.
    kp = c["ecs"].nova_create_keypair(ecs.NovaCreateKeypairRequest(body=ecs.NovaCreateKeypairRequestBody(
        keypair=ecs.NovaCreateKeypairOption(name="packer-kp-1")))).keypair
    check(kp.private_key and "OPENSSH PRIVATE KEY" in kp.private_key, "generated keypair returns its private key")
    kps = c["ecs"].nova_list_keypairs(ecs.NovaListKeypairsRequest()).keypairs
    check([k.keypair.name for k in kps] == ["packer-kp-1"], "keypair listed")

    # EIP: created DOWN, shown, later bound through the server create.
    created = c["eip"].create_publicip(eip.CreatePublicipRequest(body=eip.CreatePublicipRequestBody(
        publicip=eip.CreatePublicipOption(type="5_bgp"),
        bandwidth=eip.CreatePublicipBandwidthOption(name="packer_eip_bandwidth", size=5, share_type="PER", charge_mode="traffic")))).publicip
    check(created.status == "DOWN" and created.public_ip_address, "EIP created DOWN with an address")
    shown = c["eip"].show_publicip(eip.ShowPublicipRequest(publicip_id=created.id)).publicip
    check(shown.public_ip_address == created.public_ip_address, "EIP shown")

    # Images: the gold base image by name.
    gold = c["ims"].list_images(ims.ListImagesRequest(imagetype="gold", name="Debian 12 (local sandbox rootfs)")).images
    check(len(gold) == 1 and gold[0].imagetype == "gold" and gold[0].status == "active", "gold image found")
    image_ref = gold[0].id

    # Server through the v1 body (what the packer plugin sends), with the EIP.
    v1 = c["ecs"].create_post_paid_servers(ecs.CreatePostPaidServersRequest(body=ecs.CreatePostPaidServersRequestBody(
        server=ecs.PostPaidServer(
            name="packer-node-v1", image_ref=image_ref, flavor_ref="s7n.large.2", vpcid=subnet.vpc_id,
            nics=[ecs.PostPaidServerNic(subnet_id=subnet.id)],
            security_groups=[ecs.PostPaidServerSecurityGroup(id=default_sg.id)],
            availability_zone="ru-moscow-1a", key_name="packer-kp-1",
            root_volume=ecs.PostPaidServerRootVolume(volumetype="SSD", size=40),
            publicip=ecs.PostPaidServerPublicip(id=created.id),
            user_data="IyEvYmluL3NoCmVjaG8gaGk=",
            extendparam=ecs.PostPaidServerExtendParam(charging_mode=0)))))
    check(len(v1.server_ids) == 1, "v1 create returns one server id")
    job = wait_job(c["ecs"], ecs.ShowJobRequest, v1.job_id)
    server_v1 = job.entities.sub_jobs[0].entities.server_id
    check(server_v1 == v1.server_ids[0], "the job names the server")

    # Server through the v1.1 body.
    v11 = c["ecs"].create_servers(ecs.CreateServersRequest(body=ecs.CreateServersRequestBody(
        server=ecs.PrePaidServer(
            name="packer-node-v11", image_ref=image_ref, flavor_ref="s7n.xlarge.2", vpcid=subnet.vpc_id,
            nics=[ecs.PrePaidServerNic(subnet_id=subnet.id)],
            security_groups=[ecs.PrePaidServerSecurityGroup(id=own.id)],
            root_volume=ecs.PrePaidServerRootVolume(volumetype="GPSSD"),
            extendparam=ecs.PrePaidServerExtendParam(charging_mode="postPaid")))))
    wait_job(c["ecs"], ecs.ShowJobRequest, v11.job_id)
    server_v11 = v11.server_ids[0]

    # Show: the fields the real API fills.
    s = c["ecs"].show_server(ecs.ShowServerRequest(server_id=server_v1)).server
    check(s.status == "ACTIVE", f"server ACTIVE, got {s.status}")
    check(s.os_ext_st_svm_state == "active", "OS-EXT-STS:vm_state active")
    addrs = s.addresses[subnet.vpc_id]
    check(any(a.os_ext_ip_stype == "floating" and a.addr == created.public_ip_address for a in addrs),
          "the EIP is the floating address")
    check(any(a.os_ext_ip_stype == "fixed" and a.addr.startswith("127.10.0.") for a in addrs), "the fixed address")
    check(s.key_name == "packer-kp-1" and s.flavor.vcpus == "2" and s.image.id == image_ref, "server detail fields")
    check(s.security_groups[0].name == "default", "default security group named")
    shown = c["eip"].show_publicip(eip.ShowPublicipRequest(publicip_id=created.id)).publicip
    check(shown.status == "ACTIVE" and shown.port_id, "EIP ACTIVE once bound")
    # The same EIP through EIP v3: bound to the server's port.
    shown3 = c["eip3"].show_publicip(eip3.ShowPublicipRequest(publicip_id=created.id)).publicip
    check(shown3.public_ip_address == created.public_ip_address and shown3.status == "ACTIVE", f"EIP v3 shown: {shown3}")
    check(shown3.vnic.port_id == shown.port_id and shown3.vnic.instance_id == server_v1, f"EIP v3 vnic: {shown3.vnic}")
    check(shown3.bandwidth.size == 5 and shown3.bandwidth.share_type == "PER", f"EIP v3 bandwidth: {shown3.bandwidth}")
    listed3 = c["eip3"].list_publicips(eip3.ListPublicipsRequest(public_ip_address=[created.public_ip_address]))
    check([x.id for x in listed3.publicips] == [created.id] and listed3.total_count == 1, f"EIP v3 by address: {listed3}")
    expect_client_error(lambda: c["eip3"].show_publicip(eip3.ShowPublicipRequest(publicip_id="no-such-eip")),
                        404, "EIP.7904", "EIP v3 of an unknown id")
    # Server tags: those of the create call, then added, changed and removed.
    c["ecs"].batch_create_server_tags(ecs.BatchCreateServerTagsRequest(server_id=server_v1,
        body=ecs.BatchCreateServerTagsRequestBody(action="create", tags=[
            ecs.BatchAddServerTag(key="team", value="infra"), ecs.BatchAddServerTag(key="stage", value="dev")])))
    c["ecs"].batch_create_server_tags(ecs.BatchCreateServerTagsRequest(server_id=server_v1,
        body=ecs.BatchCreateServerTagsRequestBody(action="create", tags=[ecs.BatchAddServerTag(key="stage", value="prod")])))
    tags = c["ecs"].show_server_tags(ecs.ShowServerTagsRequest(server_id=server_v1)).tags
    check(sorted((t.key, t.value) for t in tags) == [("stage", "prod"), ("team", "infra")], f"server tags: {tags}")
    c["ecs"].batch_delete_server_tags(ecs.BatchDeleteServerTagsRequest(server_id=server_v1,
        body=ecs.BatchDeleteServerTagsRequestBody(action="delete", tags=[ecs.ServerTag(key="team")])))
    tags = c["ecs"].show_server_tags(ecs.ShowServerTagsRequest(server_id=server_v1)).tags
    check([(t.key, t.value) for t in tags] == [("stage", "prod")], f"server tags after the delete: {tags}")
    project_tags = c["ecs"].list_server_tags(ecs.ListServerTagsRequest()).tags
    check([(t.key, t.values) for t in project_tags] == [("stage", ["prod"])], f"project tags: {project_tags}")
    by_tag = c["ecs"].list_servers_details(ecs.ListServersDetailsRequest(tags="stage=prod"))
    check([x.id for x in by_tag.servers] == [server_v1], "servers by tag")
    expect_client_error(lambda: c["ecs"].show_server_tags(ecs.ShowServerTagsRequest(server_id="no-such-server")),
                        404, "Ecs.0114", "tags of an unknown server")
    # Rename and describe; the host name is the one the server booted with.
    updated = c["ecs"].update_server(ecs.UpdateServerRequest(server_id=server_v11, body=ecs.UpdateServerRequestBody(
        server=ecs.UpdateServerOption(name="packer-node-v11b", description="renamed by the SDK"))))
    check(updated.server.name == "packer-node-v11b" and updated.server.description == "renamed by the SDK", f"updated: {updated.server}")
    expect_client_error(lambda: c["ecs"].update_server(ecs.UpdateServerRequest(server_id=server_v11,
        body=ecs.UpdateServerRequestBody(server=ecs.UpdateServerOption(name="bad name!")))), 400, "Ecs.0005", "an invalid name")
    # Nova's view of the same servers.
    nova = c["ecs"].nova_show_server(ecs.NovaShowServerRequest(server_id=server_v1)).server
    check(nova.id == server_v1 and nova.status == "ACTIVE" and nova.key_name == "packer-kp-1", f"nova show: {nova}")
    check(nova.security_groups[0].name == "default" and nova.links, f"nova fields: {nova}")
    nova_names = sorted(x.name for x in c["ecs"].nova_list_servers(ecs.NovaListServersRequest()).servers)
    check(nova_names == ["packer-node-v1", "packer-node-v11b"], f"nova list: {nova_names}")
    nova_detail = c["ecs"].nova_list_servers_details(ecs.NovaListServersDetailsRequest(name="packer-node-v11b")).servers
    check([x.id for x in nova_detail] == [server_v11], f"nova list detail by name: {nova_detail}")
    expect_client_error(lambda: c["ecs"].nova_show_server(ecs.NovaShowServerRequest(server_id="no-such-server")),
                        404, None, "nova show of an unknown server")
    # VPC v3: a VPC of one's own, listed, paged and deleted.
    mine = c["vpc3"].create_vpc(vpc3.CreateVpcRequest(body=vpc3.CreateVpcRequestBody(
        vpc=vpc3.CreateVpcOption(name="sdk-vpc-v3", cidr="10.20.0.0/16"))))
    v3_list = c["vpc3"].list_vpcs(vpc3.ListVpcsRequest(name=["sdk-vpc-v3"])).vpcs
    check(len(v3_list) == 1 and v3_list[0].cidr == "10.20.0.0/16", f"v3 VPC by name: {v3_list}")
    v3_page = c["vpc3"].list_vpcs(vpc3.ListVpcsRequest(limit=1))
    check(len(v3_page.vpcs) == 1 and v3_page.page_info.next_marker == v3_page.vpcs[0].id, f"v3 VPC page: {v3_page.page_info}")
    c["vpc3"].delete_vpc(vpc3.DeleteVpcRequest(vpc_id=v3_list[0].id))
    check(c["vpc3"].list_vpcs(vpc3.ListVpcsRequest(name=["sdk-vpc-v3"])).vpcs == [], "v3 VPC deleted")
    expect_client_error(lambda: c["vpc3"].create_vpc(vpc3.CreateVpcRequest(body=vpc3.CreateVpcRequestBody(
        vpc=vpc3.CreateVpcOption(name="bad", cidr="10.0.0.0/30")))), 400, "VPC.0002", "a v3 VPC with a /30")
    # The server's NIC as a VPC port, found by server and by address.
    ports = c["vpc"].list_ports(vpc2.ListPortsRequest(device_id=server_v1)).ports
    check(len(ports) == 1 and ports[0].id == shown.port_id, f"the server's one port carries the EIP: {ports}")
    fixed_ip = ports[0].fixed_ips[0].ip_address
    check(fixed_ip.startswith("127.10.0.") and ports[0].network_id == subnet.id, f"port address: {ports[0]}")
    by_ip = c["vpc"].list_ports(vpc2.ListPortsRequest(fixed_ips=[f"ip_address={fixed_ip}"])).ports
    check([p.device_id for p in by_ip] == [server_v1], "port by fixed address")
    check(len(c["vpc"].list_ports(vpc2.ListPortsRequest()).ports) == 2, "one port per server")
    port = c["vpc"].show_port(vpc2.ShowPortRequest(port_id=shown.port_id)).port
    check(port.mac_address and port.status == "ACTIVE" and port.security_groups == [default_sg.id], f"port shown: {port}")
    # Quotas and use, and the password a keypair server does not have.
    limits = c["ecs"].show_server_limits(ecs.ShowServerLimitsRequest()).absolute
    check(limits.total_instances_used == 2 and limits.max_total_instances == 10, f"instance quota: {limits}")
    check(limits.total_cores_used == 2 + 4 and limits.total_ram_used == 4096 + 8192, f"cores and RAM used: {limits}")
    password = c["ecs"].show_server_password(ecs.ShowServerPasswordRequest(server_id=server_v1)).password
    check(password == "", f"a Linux keypair server has no password: {password!r}")
    expect_client_error(lambda: c["vpc"].delete_security_group(vpc2.DeleteSecurityGroupRequest(security_group_id=own.id)),
                        409, "VPC.0204", "a group a server uses")

    # List with filters and paging.
    all_servers = c["ecs"].list_servers_details(ecs.ListServersDetailsRequest())
    check(all_servers.count == 2, f"two servers, got {all_servers.count}")
    by_name = c["ecs"].list_servers_details(ecs.ListServersDetailsRequest(name="packer-node-v11"))
    check([x.id for x in by_name.servers] == [server_v11], "filter by name")
    page1 = c["ecs"].list_servers_details(ecs.ListServersDetailsRequest(limit=1))
    check(len(page1.servers) == 1 and page1.count == 2, "limit 1")
    page2 = c["ecs"].list_servers_details(ecs.ListServersDetailsRequest(limit=1, marker=page1.servers[0].id))
    check(len(page2.servers) == 1 and page2.servers[0].id != page1.servers[0].id, "marker pages on")
    expect_client_error(lambda: c["ecs"].list_servers_details(ecs.ListServersDetailsRequest(marker="no-such-server")),
                        400, "Ecs.0005", "a marker that is no server of the listing")
    ports_after = c["vpc"].list_ports(vpc2.ListPortsRequest(marker=c["vpc"].list_ports(vpc2.ListPortsRequest()).ports[0].id)).ports
    check(len(ports_after) == 1, f"ports page on after the marker: {ports_after}")
    expect_client_error(lambda: c["vpc"].list_ports(vpc2.ListPortsRequest(marker="no-such-port")),
                        400, "VPC.0002", "a marker that is no port of the listing")

    # Stop, then the image.
    stop = c["ecs"].batch_stop_servers(ecs.BatchStopServersRequest(body=ecs.BatchStopServersRequestBody(
        os_stop=ecs.BatchStopServersOption(servers=[ecs.ServerId(id=server_v1)], type="SOFT"))))
    wait_job(c["ecs"], ecs.ShowJobRequest, stop.job_id)
    check(c["ecs"].show_server(ecs.ShowServerRequest(server_id=server_v1)).server.status == "SHUTOFF", "stopped")
    made = c["ims"].create_image(ims.CreateImageRequest(body=ims.CreateImageRequestBody(
        name="cce-node-custom-1", instance_id=server_v1, description="made by the SDK scenario",
        image_tags=[ims.TagKeyValue(key="builder", value="cce-image-builder")])))
    ijob = wait_job(c["ims"], ims.ShowJobRequest, made.job_id)
    image_id = ijob.entities.image_id
    check(image_id, "the IMS job names the image")
    by_id = c["ims"].list_images(ims.ListImagesRequest(id=image_id)).images
    check(len(by_id) == 1 and by_id[0].status == "active" and by_id[0].imagetype == "private", "image by id")
    check(by_id[0].tags == ["builder=cce-image-builder"], f"image tags: {by_id[0].tags}")
    by_name = c["ims"].list_images(ims.ListImagesRequest(name="cce-node-custom-1", imagetype="private")).images
    check([i.id for i in by_name] == [image_id], "image by name is the one just made")
    check(by_name[0].min_disk == 40 and by_name[0].os_type == "Linux", "image fields")

    # The safe-mode create (IMS v2.1) makes the same kind of image; the OS list names its OS.
    safe = c["ims"].create_image_in_safe_mode(ims.CreateImageInSafeModeRequest(body=ims.CreateImageRequestBody(
        name="cce-node-custom-safe", instance_id=server_v1)))
    safe_id = wait_job(c["ims"], ims.ShowJobRequest, safe.job_id).entities.image_id
    safe_img = c["ims"].glance_show_image(ims.GlanceShowImageRequest(image_id=safe_id))
    check(safe_img.status == "active" and safe_img.name == "cce-node-custom-safe", f"safe-mode image: {safe_img}")
    c["ims"].glance_delete_image(ims.GlanceDeleteImageRequest(image_id=safe_id))
    os_versions = c["ims"].list_os_versions(ims.ListOsVersionsRequest()).body
    known = [v.os_version for p in os_versions for v in p.version_list]
    check(by_id[0].os_version in known, f"the image's OS is in the OS list: {known}")

    # Sharing through Glance, one member at a time (the plugin's v0.4.0 `image_members`), and
    # removing through the batch call.
    other = "0123456789abcdef0123456789abcdef"
    m = c["ims"].glance_add_image_member(ims.GlanceAddImageMemberRequest(
        image_id=image_id, body=ims.GlanceAddImageMemberRequestBody(member=other)))
    check(m.member_id == other and m.status == "pending" and m.image_id == image_id, f"member added: {m}")
    expect_client_error(lambda: c["ims"].glance_add_image_member(ims.GlanceAddImageMemberRequest(
        image_id=image_id, body=ims.GlanceAddImageMemberRequestBody(member=other))), 409, "IMG.0015", "the same member twice")
    shown_m = c["ims"].glance_show_image_member(ims.GlanceShowImageMemberRequest(image_id=image_id, member_id=other))
    check(shown_m.status == "pending", f"member shown: {shown_m}")
    removed = c["ims"].batch_delete_members(ims.BatchDeleteMembersRequest(
        body=ims.BatchAddMembersRequestBody(images=[image_id], projects=[other])))
    wait_job(c["ims"], ims.ShowJobRequest, removed.job_id)
    members = c["ims"].glance_list_image_members(ims.GlanceListImageMembersRequest(image_id=image_id)).members
    check(members == [], f"no member after the batch removal: {members}")
    added = c["ims"].batch_add_members(ims.BatchAddMembersRequest(
        body=ims.BatchAddMembersRequestBody(images=[image_id], projects=[other])))
    wait_job(c["ims"], ims.ShowJobRequest, added.job_id)
    c["ims"].glance_delete_image_member(ims.GlanceDeleteImageMemberRequest(image_id=image_id, member_id=other))
    expect_client_error(lambda: c["ims"].glance_show_image_member(ims.GlanceShowImageMemberRequest(
        image_id=image_id, member_id=other)), 404, "IMG.0027", "a removed member")
    # Glance's JSON patch (the plugin's `image_min_disk`).
    patched = c["ims"].glance_update_image(ims.GlanceUpdateImageRequest(
        image_id=image_id, body=[ims.GlanceUpdateImageRequestBody(op="replace", path="/min_disk", value="50")]))
    check(patched.min_disk == 50 and patched.id == image_id, f"min_disk patched: {patched.min_disk}")
    check(c["ims"].glance_show_image(ims.GlanceShowImageRequest(image_id=image_id)).min_disk == 50, "the patch holds")

    # Refusals the SDK must surface as ClientRequestException with the gateway's code.
    bad = clients(ready, sk="wrong-secret-key")
    expect_client_error(lambda: bad["ecs"].list_flavors(ecs.ListFlavorsRequest()), 401, "APIGW.0301", "wrong secret key")
    stale = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)).strftime("%Y%m%dT%H%M%SZ")
    expect_client_error(lambda: c["ims"].list_images(ims.ListImagesRequest(x_sdk_date=stale)), 401, "APIGW.0301", "date skewed by 20 minutes")
    fresh = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    c["ims"].list_images(ims.ListImagesRequest(x_sdk_date=fresh, limit=1))

    # Delete both servers: the second through Nova, the first with its EIP (delete_publicip).
    c["ecs"].nova_delete_server(ecs.NovaDeleteServerRequest(server_id=server_v11))
    d = c["ecs"].delete_servers(ecs.DeleteServersRequest(body=ecs.DeleteServersRequestBody(
        servers=[ecs.ServerId(id=server_v1)], delete_publicip=True, delete_volume=True)))
    wait_job(c["ecs"], ecs.ShowJobRequest, d.job_id)
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while c["ecs"].nova_list_servers(ecs.NovaListServersRequest()).servers:
        check(time.monotonic() < deadline, "the server deleted through Nova is still listed")
        time.sleep(0.05)
    e = expect_client_error(lambda: c["ecs"].show_server(ecs.ShowServerRequest(server_id=server_v1)), 404, "Ecs.0114", "deleted server")
    expect_client_error(lambda: c["eip"].show_publicip(eip.ShowPublicipRequest(publicip_id=created.id)), 404, "EIP.7904", "EIP released with the server")
    c["ecs"].nova_delete_keypair(ecs.NovaDeleteKeypairRequest(keypair_name="packer-kp-1"))
    c["vpc"].delete_security_group(vpc2.DeleteSecurityGroupRequest(security_group_id=own.id))
    check(c["vpc"].list_ports(vpc2.ListPortsRequest()).ports == [], "no port without servers")

    with open(out_path, "w") as f:
        json.dump({"image_id": image_id, "deleted_server": server_v1}, f)
    print(f"sdk scenario build: ok (image {image_id})")


def phase_reload(ready, out_path):
    with open(out_path) as f:
        prev = json.load(f)
    c = clients(ready)
    images = c["ims"].list_images(ims.ListImagesRequest(id=prev["image_id"])).images
    check(len(images) == 1 and images[0].name == "cce-node-custom-1" and images[0].status == "active",
          "the image made before the restart is still listed")
    expect_client_error(lambda: c["ecs"].show_server(ecs.ShowServerRequest(server_id=prev["deleted_server"])),
                        404, "Ecs.0114", "a deleted server stays deleted after a restart")
    check(c["ecs"].list_servers_details(ecs.ListServersDetailsRequest()).count == 0, "no server left")
    print("sdk scenario reload: ok")


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("build", "reload"):
        print(__doc__, file=sys.stderr)
        return 2
    ready = json.loads(sys.argv[2])
    try:
        (phase_build if sys.argv[1] == "build" else phase_reload)(ready, sys.argv[3])
    except AssertionError as e:
        print(f"sdk scenario {sys.argv[1]}: FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
