packer {
required_plugins {
huaweicloud = {
version = "= 0.4.0"
source = "github.com/huaweicloud/huaweicloud"
}
}
}

variable "region" {
  type = string
  default = env("REGION_NAME")
}
variable "access_key" {
  type = string
  default = env("IAM_ACCESS_KEY")
  sensitive = true
}
variable "secret_key" {
  type = string
  default = env("IAM_SECRET_KEY")
  sensitive = true
}
variable "ecs_az" {
  type = string
  default = "" # пусто: зона выбирается случайно
}
variable "ecs_vpc_id" { default = env("ECS_VPC_ID") }
variable "ecs_network_id" { default = env("ECS_NETWORK_ID") }
variable "ecs_secgrp_id" { default = env("ECS_SECGRP_ID") }
variable "cce_source_image_id" { default = env("CCE_SOURCE_IMAGE_ID") }

source "huaweicloud-ecs" "builder" {
  region = var.region
  access_key = var.access_key
  secret_key = var.secret_key
  availability_zone = var.ecs_az
  vpc_id = var.ecs_vpc_id
  subnets = [var.ecs_network_id]
  security_groups = [var.ecs_secgrp_id]
  source_image = var.cce_source_image_id
  flavor = "c7n.large.2"
  image_name = "cce-node-${formatdate("YYYYMMDDhhmm", timestamp())}"
  ssh_username = "root"
  eip_type = "5_bgp"
  eip_bandwidth_size = 5
}

build {
  sources = ["source.huaweicloud-ecs.builder"]
  # Example:
  provisioner "file" {
    source = "user-packages/"
    destination = "/tmp/user-packages"
  }
  provisioner "shell" {
    scripts = ["user-scripts/step1.sh","user-scripts/step2.sh"]
  }
  provisioner "shell" {
    inline = ["echo foo"]
  }
}
