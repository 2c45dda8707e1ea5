# turbo-node.pkr.hcl: builds a custom CCE node image on Cloud.ru Advanced (Huawei Cloud stack).
#
# Set the seven variables of the kit's guide before `make image`:
#   export REGION_NAME=ru-moscow-1
#   export IAM_ACCESS_KEY=... IAM_SECRET_KEY=...
#   export ECS_VPC_ID=... ECS_NETWORK_ID=... ECS_SECGRP_ID=...
#   export CCE_SOURCE_IMAGE_ID=...   # the CCE base image ID of your cluster's version
# Any other variable below keeps its default; override one with PKR_VAR_<name>, for example
#   export PKR_VAR_ecs_az=ru-moscow-1b
# With none of the seven set, cce-image-builder builds on its embedded local cloud instead.
#
# The build runs top to bottom: user-packages/ is uploaded to /tmp/example.package, then every
# user-scripts/*.sh in name order, then the kit's own scripts/*.sh (base image check, image hygiene).

packer {
  required_plugins {
    huaweicloud = {
      version = ">= 0.4.0"
      source  = "github.com/huaweicloud/huaweicloud"
    }
  }
}

variable "region" {
  type        = string
  default     = env("REGION_NAME")
  description = "Region of the project; Cloud.ru Advanced has one: ru-moscow-1."
}

variable "access_key" {
  type        = string
  default     = env("IAM_ACCESS_KEY")
  sensitive   = true
  description = "Access Key (AK) of an AK/SK pair; delete the pair once the image is built."
}

variable "secret_key" {
  type        = string
  default     = env("IAM_SECRET_KEY")
  sensitive   = true
  description = "Secret Access Key (SK) of the same AK/SK pair."
}

variable "auth_url" {
  type        = string
  default     = ""
  description = "IAM endpoint; empty means https://iam.<region>.hc.sbercloud.ru/v3."
}

variable "vpc_id" {
  type        = string
  default     = env("ECS_VPC_ID")
  description = "VPC of the temporary ECS: the VPC of the server that runs the build."
}

variable "subnet_id" {
  type        = string
  default     = env("ECS_NETWORK_ID")
  description = "Network (subnet) ID of the temporary ECS."
}

variable "security_group_id" {
  type        = string
  default     = env("ECS_SECGRP_ID")
  description = "Security group of the temporary ECS; it must allow inbound TCP 22 from the build server."
}

variable "source_image_id" {
  type        = string
  default     = env("CCE_SOURCE_IMAGE_ID")
  description = "CCE base node image ID (CCE console: Create Node Pool, OS, Private Image, View CCE base image information)."
}

variable "ecs_az" {
  type        = string
  default     = ""
  description = "Availability zone: ru-moscow-1a, ru-moscow-1b, ru-moscow-1c or ru-moscow-1e; empty picks one at random."
}

variable "ecs_flavor" {
  type        = string
  default     = "s7n.large.2"
  description = "Flavor of the temporary ECS."
}

variable "volume_type" {
  type        = string
  default     = "SSD"
  description = "EVS type of the system disk."
}

variable "volume_size" {
  type        = number
  default     = 50
  description = "System disk size in GB; CCE nodes need at least 50."
}

variable "eip_type" {
  type        = string
  default     = "5_bgp"
  description = "Type of the temporary EIP that the build server reaches the ECS through."
}

variable "eip_bandwidth_size" {
  type        = number
  default     = 5
  description = "Bandwidth of the temporary EIP in Mbit/s."
}

variable "ssh_username" {
  type        = string
  default     = "root"
  description = "User that the provisioners connect as; CCE base images allow root."
}

variable "image_name" {
  type        = string
  default     = "cce-turbo-node"
  description = "Prefix of the image name; a UTC timestamp is appended."
}

variable "image_description" {
  type        = string
  default     = "Custom CCE node image built by cce-image-builder"
  description = "Description of the image in IMS."
}

locals {
  timestamp     = formatdate("YYYYMMDDhhmmss", timestamp())
  kit_root      = "${path.root}/.."
  user_scripts  = "${local.kit_root}/user-scripts"
  kit_scripts   = "${local.kit_root}/scripts"
  user_packages = "${local.kit_root}/user-packages"
  auth_url      = var.auth_url != "" ? var.auth_url : (var.region != "" ? "https://iam.${var.region}.hc.sbercloud.ru/v3" : "")
}

source "huaweicloud-ecs" "builder" {
  region     = var.region
  access_key = var.access_key
  secret_key = var.secret_key
  auth_url   = local.auth_url

  availability_zone = var.ecs_az
  flavor            = var.ecs_flavor
  source_image      = var.source_image_id
  vpc_id            = var.vpc_id
  # An empty ID gives an empty list, which leaves the choice to the cloud (or the local cloud).
  subnets         = var.subnet_id != "" ? [var.subnet_id] : []
  security_groups = var.security_group_id != "" ? [var.security_group_id] : []

  volume_type        = var.volume_type
  volume_size        = var.volume_size
  eip_type           = var.eip_type
  eip_bandwidth_size = var.eip_bandwidth_size

  communicator = "ssh"
  ssh_username = var.ssh_username
  ssh_timeout  = "10m"

  image_name        = "${var.image_name}-${local.timestamp}"
  image_description = var.image_description
  image_tags = {
    built_by   = "cce-image-builder"
    build_time = local.timestamp
  }
}

build {
  sources = ["source.huaweicloud-ecs.builder"]

  provisioner "file" {
    source      = "${local.user_packages}/"
    destination = "/tmp/example.package"
  }

  provisioner "shell" {
    scripts = [for f in sort(fileset(local.user_scripts, "*.sh")) : "${local.user_scripts}/${f}"]
  }

  # The kit's own scripts: changing them can make the image unusable as a CCE node.
  provisioner "shell" {
    scripts = [for f in sort(fileset(local.kit_scripts, "*.sh")) : "${local.kit_scripts}/${f}"]
  }

  post-processor "manifest" {
    output     = "output/packer-manifest.json"
    strip_path = true
    custom_data = {
      source_image = var.source_image_id
      region       = var.region
      flavor       = var.ecs_flavor
    }
  }
}
