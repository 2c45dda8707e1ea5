locals {
  sums = [
    md5("x"),
    sha1("x"),
    sha256("x"),
    sha512("x"),
    uuidv5("dns", "example.com"),
  ]
  random_id = uuidv4()
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${join(" ", local.sums)} ${length(local.random_id)}"]
  }
}
