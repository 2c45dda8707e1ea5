locals {
  when = timeadd("2024-03-01T10:20:30Z", "one day")
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${local.when}"]
  }
}
