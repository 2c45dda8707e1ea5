variable "name" {
  type    = string
  default = "a"
}

variable "name" {
  type    = string
  default = "b"
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]
}
