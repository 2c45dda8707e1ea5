# No credentials: the source targets the embedded local cloud, so network IDs may stay empty.
packer {
  required_plugins {
    huaweicloud = {
      version = "= 0.4.0"
      source  = "github.com/huaweicloud/huaweicloud"
    }
  }
}

variable "access_key" {
  type      = string
  default   = ""
  sensitive = true
}

variable "secret_key" {
  type      = string
  default   = ""
  sensitive = true
}

source "huaweicloud-ecs" "builder" {
  access_key   = var.access_key
  secret_key   = var.secret_key
  region       = ""
  flavor       = "s7n.large.2"
  image_name   = "corpus-local"
  ssh_username = "root"
}

build {
  sources = ["source.huaweicloud-ecs.builder"]

  provisioner "shell" {
    inline = ["uname -a"]
  }
}
