locals {
  now       = timestamp()
  stamp     = formatdate("YYYYMMDDhhmmss", local.now)
  pretty    = formatdate("DD MMM YYYY hh:mm ZZZ", "2024-03-01T10:20:30Z")
  tomorrow  = timeadd("2024-03-01T10:20:30Z", "24h")
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${local.stamp} ${local.pretty} ${local.tomorrow}"]
  }
}
