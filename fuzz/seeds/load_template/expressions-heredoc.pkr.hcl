variable "user" {
  type    = string
  default = "root"
}

locals {
  plain = <<EOT
first line
second line for ${var.user}
EOT
  indented = <<-EOT
    indented heredoc
      keeps relative indentation
    EOT
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = [
      <<-EOF
      cat <<'TEXT'
      ${local.plain}${local.indented}
      TEXT
      EOF
    ]
  }
}
