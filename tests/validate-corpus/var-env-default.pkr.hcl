# env() in a variable default: an unset environment variable gives "".
variable "region" {
  type    = string
  default = env("CCE_CORPUS_SURELY_UNSET_VARIABLE")
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo region=${var.region == "" ? "unset" : var.region}"]
  }
}
