source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline      = ["echo hi"]
    inline_shebang_typo = "/bin/sh -e"
  }
}
