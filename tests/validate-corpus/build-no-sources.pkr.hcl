source "null" "basic" {
  communicator = "none"
}

build {
  provisioner "shell-local" {
    inline = ["echo nothing to build"]
  }
}
