locals {
  upper_zones = [for z in var.zones: upper(z)]
  by_name     = {for k,v in var.tags : k => upper(v) if v!=""}
  nested      = [for x in [1,2,3]: x*2]
  grouped     = {for s in var.servers: s.role => s.name...}
  in_list     = [for x in[1, 2]: x]
}
