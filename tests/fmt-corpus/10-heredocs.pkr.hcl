build {
  sources = ["source.huaweicloud-ecs.turbo"]

  provisioner "shell" {
    inline = [<<EOT
set -eu
echo "${var.greeting}"
  indented line
EOT
    ]
  }

  provisioner "shell" {
  environment_vars = ["A=1"]
     script = <<-SCRIPT
        #!/bin/sh
        echo ${ var.name } > /etc/name
        %{ if var.debug }set -x%{ endif }
        SCRIPT
  }
}
