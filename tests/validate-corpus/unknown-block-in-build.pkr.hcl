source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisoner "shell-local" {
    inline = ["echo hi"]
  }
}
