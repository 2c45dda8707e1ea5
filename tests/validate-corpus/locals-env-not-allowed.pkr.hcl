# env() is only allowed in variable defaults.
locals {
  home = env("HOME")
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]
}
