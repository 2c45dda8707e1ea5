variable "disk" {
  type = object({
    size = number
    type = optional(string)
  })
  default = { size = 50 }
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${var.disk.size} ${var.disk.type == null ? "default" : var.disk.type}"]
  }
}
