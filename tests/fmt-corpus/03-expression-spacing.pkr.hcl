locals {
  a=1+2*3
  b = (var.x+1)/2
  c = var.count%2==0
  d = var.a&&var.b||!var.c
  e = var.x>=10?"big":"small"
  f = -var.offset
  g = 10 - -3
  h = var.n<=0 ? 0 : var.n-1
  i = var.a!=var.b
}
