variable "settings" {
  type    = map(string)
  default = { zone = "ru-moscow-1a" }
}

locals {
  zone    = try(var.settings["zone"], "random")
  flavor  = try(var.settings["flavor"], "s7n.large.2")
  has_vpc = can(var.settings["vpc"])
  parsed  = try(jsondecode("not json"), {})
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${local.zone} ${local.flavor} ${local.has_vpc} ${length(local.parsed)}"]
  }
}
