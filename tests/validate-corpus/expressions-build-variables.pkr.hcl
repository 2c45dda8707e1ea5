# build.* values are only known while building; validate accepts them.
source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${build.ID} ${build.PackerRunUUID} ${source.name} ${source.type}"]
  }
}
