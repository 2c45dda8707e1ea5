source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "file" {
    source      = "files/no-such-file.txt"
    destination = "/tmp/x"
  }
}
