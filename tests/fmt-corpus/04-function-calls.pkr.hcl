locals {
  stamp = formatdate( "YYYYMMDDhhmmss" , timestamp( ) )
  name  = lower(replace(var.name," ","-"))
  parts = split( ",",var.csv )
  joined = join("-",[ "a","b" ,"c"])
  merged = merge({a = 1},{ b=2 })
  args = concat(var.list...)
  expanded = max(var.numbers ...)
}
