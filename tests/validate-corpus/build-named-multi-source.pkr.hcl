source "null" "first" {
  communicator = "none"
}

source "null" "second" {
  communicator = "none"
}

build {
  name        = "nodes"
  description = "two sources in one build"
  sources     = ["source.null.first", "source.null.second"]

  provisioner "shell-local" {
    inline = ["echo ${source.name}"]
  }
}

build {
  name    = "only-first"
  sources = ["source.null.first"]
}
