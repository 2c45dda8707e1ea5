# Run with -var nope=1: a -var for an undeclared variable is an error.
variable "declared" {
  type    = string
  default = "x"
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]
}
