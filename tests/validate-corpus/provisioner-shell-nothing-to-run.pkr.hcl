source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell" {
    environment_vars = ["A=1"]
  }
}
