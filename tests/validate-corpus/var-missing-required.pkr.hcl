# Run without -var: the variable without a default stays unset.
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
