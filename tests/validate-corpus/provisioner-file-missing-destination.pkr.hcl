source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "file" {
    source = "files/payload.txt"
  }
}
