locals {
  flavor = var.large?"s7n.xlarge.2":"s7n.large.2"
  size   = var.disk_size==null ? 40 : var.disk_size
  nested = var.a ? (var.b ? 1 : 2) : 3
  multi  = (
    var.enabled
    ? "yes"
    : "no"
  )
}
