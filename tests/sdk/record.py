#!/usr/bin/env python3
"""Runs the builder's call sequence with the official Huawei Cloud Python SDK (3.1.219) against a
local cloud that records every request (`Config::request_log`), so
`crates/localcloud/tests/sdk_compare.rs` can hold our client's requests to the SDK's, call by
call. The same steps, in the same order and with the same arguments, are made with `cce_cloud`
by that test: change both together.

    record.py READY_JSON FIXTURES_JSON

READY_JSON is the line `cce-image-builder localcloud serve` prints; FIXTURES_JSON names the
built-in security groups (`{"sg_default": ID, "sg_no_ssh": ID}`), read from the state file since
our client has no call that lists security groups. Jobs finish at once (instant profile), so
each job is shown exactly once. Exits non-zero on the first failed step, naming it.
"""

import json
import sys

from huaweicloudsdkcore.auth.credentials import BasicCredentials, GlobalCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig

from huaweicloudsdkecs.v2 import EcsClient
from huaweicloudsdkecs.v2 import model as ecs
from huaweicloudsdkeip.v2 import EipClient
from huaweicloudsdkeip.v2 import model as eip
from huaweicloudsdkiam.v3 import IamClient
from huaweicloudsdkiam.v3 import model as iam
from huaweicloudsdkims.v2 import ImsClient
from huaweicloudsdkims.v2 import model as ims
from huaweicloudsdkvpc.v2 import VpcClient
from huaweicloudsdkvpc.v2 import model as vpc2
from huaweicloudsdkvpc.v3 import VpcClient as VpcV3Client
from huaweicloudsdkvpc.v3 import model as vpc3


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def clients(ready):
    ak, sk, pid = ready["access_key"], ready["secret_key"], ready["project_id"]
    ep = ready["endpoints"]
    cfg = HttpConfig.get_default_config()
    cfg.timeout = (5, 30)
    basic = BasicCredentials(ak, sk, pid)

    def build(cls, creds, url):
        return cls.new_builder().with_http_config(cfg).with_credentials(creds).with_endpoints([url]).build()

    return {
        "iam": build(IamClient, GlobalCredentials(ak, sk, ready["domain_id"]), ep["iam"]),
        "ecs": build(EcsClient, basic, ep["ecs"]),
        "ims": build(ImsClient, basic, ep["ims"]),
        "vpc": build(VpcClient, basic, ep["vpc"]),
        "vpc3": build(VpcV3Client, basic, ep["vpc"]),
        "eip": build(EipClient, basic, ep["vpc"]),
    }


def job_done(client, request_cls, job_id):
    job = client.show_job(request_cls(job_id=job_id))
    check(job.status == "SUCCESS", f"job {job_id} is {job.status} (the instant profile finishes jobs at once)")
    return job


def run(ready, fx):
    c = clients(ready)
    region = ready["region"]

    # IAM and placement.
    projects = c["iam"].keystone_list_projects(iam.KeystoneListProjectsRequest(name=region)).projects
    check(len(projects) == 1, "one project")
    c["ecs"].nova_list_availability_zones(ecs.NovaListAvailabilityZonesRequest())
    c["ecs"].list_server_az_info(ecs.ListServerAzInfoRequest())
    c["ecs"].list_flavors(ecs.ListFlavorsRequest(availability_zone="ru-moscow-1a"))

    # Network lookups.
    subnet = c["vpc"].list_subnets(vpc2.ListSubnetsRequest(limit=100)).subnets[0]
    c["vpc"].show_vpc(vpc2.ShowVpcRequest(vpc_id=subnet.vpc_id))
    c["vpc"].show_subnet(vpc2.ShowSubnetRequest(subnet_id=subnet.id))
    c["vpc"].show_security_group(vpc2.ShowSecurityGroupRequest(security_group_id=fx["sg_default"]))
    c["vpc"].list_security_group_rules(vpc2.ListSecurityGroupRulesRequest(security_group_id=fx["sg_no_ssh"]))
    c["vpc"].create_security_group_rule(vpc2.CreateSecurityGroupRuleRequest(
        body=vpc2.CreateSecurityGroupRuleRequestBody(security_group_rule=vpc2.CreateSecurityGroupRuleOption(
            security_group_id=fx["sg_no_ssh"], direction="ingress", ethertype="IPv4", protocol="tcp",
            port_range_min=8080, port_range_max=8081, remote_ip_prefix="10.0.0.0/8"))))
    c["vpc3"].list_security_group_rules(vpc3.ListSecurityGroupRulesRequest(security_group_id=[fx["sg_no_ssh"]]))
    c["vpc3"].create_security_group_rule(vpc3.CreateSecurityGroupRuleRequest(
        body=vpc3.CreateSecurityGroupRuleRequestBody(security_group_rule=vpc3.CreateSecurityGroupRuleOption(
            security_group_id=fx["sg_no_ssh"], direction="ingress", ethertype="IPv4", protocol="tcp",
            multiport="22", remote_ip_prefix="0.0.0.0/0", action="allow", priority=1))))
    c["vpc3"].show_security_group(vpc3.ShowSecurityGroupRequest(security_group_id=fx["sg_no_ssh"]))

    # A temporary VPC and subnet, as a build without a given network makes them.
    v = c["vpc"].create_vpc(vpc2.CreateVpcRequest(body=vpc2.CreateVpcRequestBody(
        vpc=vpc2.CreateVpcOption(name="packer-vpc-1", cidr="192.168.0.0/16")))).vpc
    c["vpc"].show_vpc(vpc2.ShowVpcRequest(vpc_id=v.id))
    s = c["vpc"].create_subnet(vpc2.CreateSubnetRequest(body=vpc2.CreateSubnetRequestBody(
        subnet=vpc2.CreateSubnetOption(name="packer-subnet-1", cidr="192.168.0.0/24", gateway_ip="192.168.0.1",
                                       vpc_id=v.id, dns_list=["100.125.13.59"])))).subnet
    c["vpc"].show_subnet(vpc2.ShowSubnetRequest(subnet_id=s.id))

    # Keypair and EIP.
    c["ecs"].nova_create_keypair(ecs.NovaCreateKeypairRequest(body=ecs.NovaCreateKeypairRequestBody(
        keypair=ecs.NovaCreateKeypairOption(name="packer-kp-1", type="ssh"))))
    c["ecs"].nova_show_keypair(ecs.NovaShowKeypairRequest(keypair_name="packer-kp-1"))
    c["ecs"].nova_list_keypairs(ecs.NovaListKeypairsRequest())
    created = c["eip"].create_publicip(eip.CreatePublicipRequest(body=eip.CreatePublicipRequestBody(
        publicip=eip.CreatePublicipOption(type="5_bgp", alias="packer-eip-1"),
        bandwidth=eip.CreatePublicipBandwidthOption(name="packer-eip-1-bandwidth", size=5, share_type="PER",
                                                    charge_mode="traffic")))).publicip
    c["eip"].show_publicip(eip.ShowPublicipRequest(publicip_id=created.id))
    c["eip"].list_publicips(eip.ListPublicipsRequest(limit=100))
    c["vpc"].list_vpcs(vpc2.ListVpcsRequest(limit=100))

    # The base image and the servers.
    gold = c["ims"].list_images(ims.ListImagesRequest(imagetype="gold", name="Debian 12 (local sandbox rootfs)")).images
    check(len(gold) == 1, "gold image found")
    image_ref = gold[0].id
    v1 = c["ecs"].create_post_paid_servers(ecs.CreatePostPaidServersRequest(body=ecs.CreatePostPaidServersRequestBody(
        server=ecs.PostPaidServer(
            name="packer-node-v1", image_ref=image_ref, flavor_ref="s7n.large.2", vpcid=subnet.vpc_id,
            nics=[ecs.PostPaidServerNic(subnet_id=subnet.id)],
            security_groups=[ecs.PostPaidServerSecurityGroup(id=fx["sg_default"])],
            availability_zone="ru-moscow-1a", key_name="packer-kp-1",
            root_volume=ecs.PostPaidServerRootVolume(volumetype="SSD", size=40),
            publicip=ecs.PostPaidServerPublicip(id=created.id),
            user_data="IyEvYmluL3NoCmVjaG8gaGk=",
            extendparam=ecs.PostPaidServerExtendParam(charging_mode=0)))))
    job_done(c["ecs"], ecs.ShowJobRequest, v1.job_id)
    server = v1.server_ids[0]
    v11 = c["ecs"].create_servers(ecs.CreateServersRequest(body=ecs.CreateServersRequestBody(
        server=ecs.PrePaidServer(
            name="packer-node-v11", image_ref=image_ref, flavor_ref="s7n.xlarge.2", vpcid=subnet.vpc_id,
            nics=[ecs.PrePaidServerNic(subnet_id=subnet.id)],
            root_volume=ecs.PrePaidServerRootVolume(volumetype="GPSSD"),
            extendparam=ecs.PrePaidServerExtendParam(charging_mode="postPaid")))))
    job_done(c["ecs"], ecs.ShowJobRequest, v11.job_id)
    server11 = v11.server_ids[0]
    c["ecs"].show_server(ecs.ShowServerRequest(server_id=server))
    c["ecs"].list_servers_details(ecs.ListServersDetailsRequest(name="packer-node-v1"))
    port = c["ecs"].list_server_interfaces(ecs.ListServerInterfacesRequest(server_id=server11)).interface_attachments[0].port_id
    # A second EIP bound by port, as the plugin's StepAllocateIp does (released with its server),
    # and a third one released at once.
    second = c["eip"].create_publicip(eip.CreatePublicipRequest(body=eip.CreatePublicipRequestBody(
        publicip=eip.CreatePublicipOption(type="5_bgp", alias="packer-eip-2"),
        bandwidth=eip.CreatePublicipBandwidthOption(name="packer-eip-2-bandwidth", size=5, share_type="PER",
                                                    charge_mode="traffic")))).publicip
    c["eip"].update_publicip(eip.UpdatePublicipRequest(publicip_id=second.id, body=eip.UpdatePublicipsRequestBody(
        publicip=eip.UpdatePublicipOption(port_id=port))))
    third = c["eip"].create_publicip(eip.CreatePublicipRequest(body=eip.CreatePublicipRequestBody(
        publicip=eip.CreatePublicipOption(type="5_bgp", alias="packer-eip-3"),
        bandwidth=eip.CreatePublicipBandwidthOption(name="packer-eip-3-bandwidth", size=5, share_type="PER",
                                                    charge_mode="traffic")))).publicip
    c["eip"].delete_publicip(eip.DeletePublicipRequest(publicip_id=third.id))

    # Stop, capture, tag, start.
    stop = c["ecs"].batch_stop_servers(ecs.BatchStopServersRequest(body=ecs.BatchStopServersRequestBody(
        os_stop=ecs.BatchStopServersOption(servers=[ecs.ServerId(id=server)], type="SOFT"))))
    job_done(c["ecs"], ecs.ShowJobRequest, stop.job_id)
    made = c["ims"].create_image(ims.CreateImageRequest(body=ims.CreateImageRequestBody(
        name="cce-node-custom-1", instance_id=server, description="made by the comparison",
        image_tags=[ims.TagKeyValue(key="builder", value="cce-image-builder")])))
    image_id = job_done(c["ims"], ims.ShowJobRequest, made.job_id).entities.image_id
    c["ims"].list_images(ims.ListImagesRequest(id=image_id))
    c["ims"].batch_add_or_delete_tags(ims.BatchAddOrDeleteTagsRequest(
        image_id=image_id, body=ims.BatchAddOrDeleteTagsRequestBody(
            action="create", tags=[ims.ResourceTag(key="os", value="debian")])))
    c["ims"].list_image_tags(ims.ListImageTagsRequest(image_id=image_id))
    share = c["ims"].batch_add_members(ims.BatchAddMembersRequest(body=ims.BatchAddMembersRequestBody(
        images=[image_id], projects=["0123456789abcdef0123456789abcdef"])))
    job_done(c["ims"], ims.ShowJobRequest, share.job_id)
    start = c["ecs"].batch_start_servers(ecs.BatchStartServersRequest(body=ecs.BatchStartServersRequestBody(
        os_start=ecs.BatchStartServersOption(servers=[ecs.ServerId(id=server)]))))
    job_done(c["ecs"], ecs.ShowJobRequest, start.job_id)

    # Cleanup.
    d = c["ecs"].delete_servers(ecs.DeleteServersRequest(body=ecs.DeleteServersRequestBody(
        servers=[ecs.ServerId(id=server), ecs.ServerId(id=server11)], delete_publicip=True, delete_volume=True)))
    job_done(c["ecs"], ecs.ShowJobRequest, d.job_id)
    c["ecs"].nova_delete_keypair(ecs.NovaDeleteKeypairRequest(keypair_name="packer-kp-1"))
    c["vpc"].delete_subnet(vpc2.DeleteSubnetRequest(vpc_id=v.id, subnet_id=s.id))
    c["vpc"].delete_vpc(vpc2.DeleteVpcRequest(vpc_id=v.id))
    c["ims"].glance_delete_image(ims.GlanceDeleteImageRequest(image_id=image_id))
    print("sdk record: ok")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        run(json.loads(sys.argv[1]), json.loads(sys.argv[2]))
    except AssertionError as e:
        print(f"sdk record: FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
