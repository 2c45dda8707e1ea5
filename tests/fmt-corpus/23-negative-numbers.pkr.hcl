locals {
  a = -1
  b = [-1, -2, - 3]
  c = {x = -1}
  d = (-1)
  e = 1-1
  f = var.x - 1
  g = 2*-1
  h = var.y>-1
  i = 1.5e-3
  j = 3E+10
}
