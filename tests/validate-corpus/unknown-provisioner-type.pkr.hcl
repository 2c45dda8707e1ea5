source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shel" {
    inline = ["echo hi"]
  }
}
