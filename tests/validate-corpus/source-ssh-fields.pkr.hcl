# The null builder takes the SSH communicator fields; validate does not connect.
source "null" "ssh" {
  communicator            = "ssh"
  ssh_host                = "127.0.0.1"
  ssh_port                = 2222
  ssh_username            = "root"
  ssh_password            = "example"
  ssh_timeout             = "2m"
  ssh_handshake_attempts  = 5
  ssh_keep_alive_interval = "10s"
  ssh_pty                 = true
  pause_before_connecting = "1s"
}

build {
  sources = ["source.null.ssh"]

  provisioner "shell" {
    inline = ["uname -a"]
  }
}
