locals {
  a = 1
}


