# Run with -var-file files/values.pkrvars.hcl (or files/bad-values.pkrvars.hcl, which fails).
variable "greeting" {
  type    = string
  default = "default"
}

variable "replicas" {
  type    = number
  default = 1
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${var.greeting} ${var.replicas}"]
  }
}
