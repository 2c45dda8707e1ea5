locals {
  cloud_init = <<-EOF
    #cloud-config
    hostname: ${var.hostname}
    runcmd:
      - [sh, -c, "echo done"]
  EOF
}
