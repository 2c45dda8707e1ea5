source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    script           = "files/hello.sh"
    environment_vars = ["STAGE=local"]
    execute_command  = ["/bin/sh", "-c", "{{.Vars}} {{.Script}}"]
  }

  provisioner "shell-local" {
    command = "echo single command"
  }
}
