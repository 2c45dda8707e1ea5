# Functions that Packer gained after 1.6.6.
locals {
  checks = [
    strcontains("ru-moscow-1", "moscow"),
    startswith("ru-moscow-1", "ru-"),
    endswith("image.qcow2", ".qcow2"),
    alltrue([true, 1 < 2]),
    anytrue([false, true]),
  ]
  total   = sum([1, 2, 3])
  matched = regex("[a-z]+", "123abc456")
  all     = regexall("[0-9]", "a1b2")
  encoded = filebase64("files/payload.txt")
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${length(local.checks)} ${local.total} ${local.matched} ${length(local.all)} ${local.encoded}"]
  }
}
