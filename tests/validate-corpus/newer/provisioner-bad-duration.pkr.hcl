# packer 1.6.6 crashes on this (nil pointer after "Failed to parse timeout duration").
source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline  = ["echo hi"]
    timeout = "5 minutes"
  }
}
