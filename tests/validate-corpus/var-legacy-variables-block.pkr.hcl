variables {
  greeting = "hello"
  size     = 5
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${var.greeting} ${var.size}"]
  }
}
