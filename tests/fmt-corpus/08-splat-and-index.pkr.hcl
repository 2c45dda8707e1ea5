locals {
  ids      = var.servers[*].id
  first    = var.servers[0].name
  legacy   = var.servers.*.id
  keyed    = var.tags ["env"]
  chained  = var.matrix[ 1 ][ 2 ]
  attr0    = var.list.0
  fn_index = split(",", var.csv) [0]
}
