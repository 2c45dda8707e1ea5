source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${var.region} ${var.replicas} ${var.tags["team"]}"]
  }
}
