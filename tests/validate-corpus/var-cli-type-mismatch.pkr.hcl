# Run with -var replicas=many: the text cannot become a number.
variable "replicas" {
  type    = number
  default = 1
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]
}
