locals {
  zones = ["ru-moscow-1a"]
  zone  = local.zones[3]
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${local.zone}"]
  }
}
