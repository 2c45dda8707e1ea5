locals {
  t = true&&false
  n = null
  s = !var.flag
  l = length(var.x)>0&&!contains(var.x,"y")
  p = (1+2)*(3-4)/5%6
}
