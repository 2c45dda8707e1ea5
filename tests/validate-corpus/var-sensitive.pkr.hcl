variable "password" {
  type      = string
  default   = "s3cr3t-value"
  sensitive = true
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    environment_vars = ["PASSWORD=${var.password}"]
    inline           = ["test -n \"$PASSWORD\""]
  }
}
