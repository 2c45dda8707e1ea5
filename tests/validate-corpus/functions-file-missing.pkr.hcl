locals {
  payload = file("files/no-such-file.txt")
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${local.payload}"]
  }
}
