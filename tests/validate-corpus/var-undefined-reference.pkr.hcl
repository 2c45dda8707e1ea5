variable "region" {
  type    = string
  default = "ru-moscow-1"
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${var.regoin}"]
  }
}
