source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo build step"]
  }

  error-cleanup-provisioner "shell-local" {
    inline = ["echo cleaning up after a failure"]
  }
}
