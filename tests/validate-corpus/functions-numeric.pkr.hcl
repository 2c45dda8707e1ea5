locals {
  numbers = [
    abs(-3),
    ceil(1.2),
    floor(1.8),
    max(1, 5, 3),
    min(1, 5, 3),
    pow(2, 10),
    parseint("ff", 16),
    signum(-7),
    log(100, 10),
  ]
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${join(" ", local.numbers)}"]
  }
}
