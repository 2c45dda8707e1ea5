build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${local.image_name}"]
  }
}
