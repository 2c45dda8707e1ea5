# Defaults are converted to the declared type the way cty does it.
variable "port" {
  type    = number
  default = "8080"
}

variable "debug" {
  type    = bool
  default = "true"
}

variable "label" {
  type    = string
  default = 42
}

variable "ids" {
  type    = list(string)
  default = [1, 2, 3]
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${var.port + 1} ${var.debug} ${var.label} ${join(",", var.ids)}"]
  }
}
