source "null" "basic" {
  communicator = "none"
}

build {
  source "source.null.basic" {
    name = "renamed"
  }

  provisioner "shell-local" {
    only   = ["null.renamed"]
    inline = ["echo ${source.name}"]
  }
}
