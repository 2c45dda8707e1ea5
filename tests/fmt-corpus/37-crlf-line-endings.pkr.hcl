locals {
  a=1
    bb = "x" # c
}
