locals {
  a = [for x in var.y:
  x
  ]
  b = {
  for k, v in var.m:
  k => v
  }
}
