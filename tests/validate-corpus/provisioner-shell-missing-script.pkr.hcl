source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell" {
    scripts = ["files/hello.sh", "files/no-such-script.sh"]
  }
}
