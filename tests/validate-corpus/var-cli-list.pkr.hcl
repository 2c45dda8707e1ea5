# Run with -var 'zones=["ru-moscow-1a","ru-moscow-1b"]' -var replicas=2 -var debug=true.
variable "zones" {
  type    = list(string)
  default = []
}

variable "replicas" {
  type    = number
  default = 1
}

variable "debug" {
  type    = bool
  default = false
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${length(var.zones)} ${var.replicas * 2} ${var.debug}"]
  }
}
