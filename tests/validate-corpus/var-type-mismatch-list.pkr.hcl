variable "zones" {
  type    = list(string)
  default = "ru-moscow-1a"
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]
}
