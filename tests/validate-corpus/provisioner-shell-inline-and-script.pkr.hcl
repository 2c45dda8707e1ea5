source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell" {
    inline = ["echo hi"]
    script = "files/hello.sh"
  }
}
