locals {
  flavor = var.large ? "s7n.xlarge.2" : "s7n.large.2"
  size   = var.disk_size == null ? 40 : var.disk_size
  count  = length(var.zones) > 0 ? length(var.zones) : 1
}
