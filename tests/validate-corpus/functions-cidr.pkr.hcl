locals {
  host    = cidrhost("192.168.0.0/24", 10)
  netmask = cidrnetmask("172.16.0.0/12")
  subnet  = cidrsubnet("10.0.0.0/16", 8, 2)
  subnets = cidrsubnets("10.1.0.0/16", 4, 4, 8)
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${local.host} ${local.netmask} ${local.subnet} ${length(local.subnets)}"]
  }
}
