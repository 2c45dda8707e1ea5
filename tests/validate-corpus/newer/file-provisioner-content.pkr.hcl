source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "file" {
    content     = "generated at validate time: ${upper("ok")}"
    destination = "/tmp/generated.txt"
  }
}
