variable "password_seed" {
  type    = string
  default = "seed"
}

local "password" {
  expression = "${var.password_seed}-${upper("x")}"
  sensitive  = true
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    environment_vars = ["PASSWORD=${local.password}"]
    inline           = ["test -n \"$PASSWORD\""]
  }
}
