locals {
  scripts = [
  <<EOT
echo one
EOT
  ,
      <<-EOT
      echo two ${var.x}
      EOT
  ]
  joined = join("\n", [<<EOT
a
EOT
  ])
}
