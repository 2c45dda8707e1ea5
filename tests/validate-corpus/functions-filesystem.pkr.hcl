# Relative paths are relative to the working directory (the corpus folder).
locals {
  payload  = file("files/payload.txt")
  exists   = fileexists("files/hello.sh")
  scripts  = fileset("files", "*.sh")
  base     = basename("files/hello.sh")
  dir      = dirname("files/hello.sh")
  absolute = abspath("files")
  root     = path.root
  cwd      = path.cwd
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${local.exists} ${length(local.scripts)} ${local.base} ${local.dir} ${trimspace(local.payload)}"]
  }
}
