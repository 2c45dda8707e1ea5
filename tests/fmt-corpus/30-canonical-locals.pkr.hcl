locals {
  stamp = formatdate("YYYYMMDDhhmmss", timestamp())
  tags = {
    owner   = "platform"
    purpose = "cce-node"
  }
  zones = [for z in var.zones : lower(z)]
}
