variable "port" {
  type    = number
  default = "eighty"
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]
}
