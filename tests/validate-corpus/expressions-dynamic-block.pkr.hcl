locals {
  messages = ["first", "second"]
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  dynamic "provisioner" {
    for_each = local.messages
    labels   = ["shell-local"]
    content {
      inline = ["echo ${provisioner.value}"]
    }
  }
}
