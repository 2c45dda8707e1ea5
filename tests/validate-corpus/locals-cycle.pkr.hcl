locals {
  a = "${local.b}-a"
  b = "${local.a}-b"
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${local.a}"]
  }
}
