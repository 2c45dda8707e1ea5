# Locals may refer to each other in any order.
variable "prefix" {
  type    = string
  default = "cce"
}

locals {
  full_name = "${local.base}-${local.suffix}"
  base      = "${var.prefix}-node"
  suffix    = "v1"
  settings = {
    name  = local.full_name
    count = 2
  }
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${local.full_name} ${local.settings.count}"]
  }
}
