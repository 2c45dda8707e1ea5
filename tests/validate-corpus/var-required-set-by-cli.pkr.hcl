# Run with -var image_id=...: a variable without a default is required.
variable "image_id" {
  type = string
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${var.image_id}"]
  }
}
