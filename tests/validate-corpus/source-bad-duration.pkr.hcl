source "null" "ssh" {
  communicator = "ssh"
  ssh_host     = "127.0.0.1"
  ssh_username = "root"
  ssh_password = "example"
  ssh_timeout  = "five minutes"
}

build {
  sources = ["source.null.ssh"]
}
