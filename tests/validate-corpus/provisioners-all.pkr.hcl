source "null" "first" {
  communicator = "none"
}

source "null" "second" {
  communicator = "none"
}

build {
  sources = ["source.null.first", "source.null.second"]

  provisioner "file" {
    source      = "files/payload.txt"
    destination = "/tmp/payload.txt"
    direction   = "upload"
  }

  provisioner "shell" {
    inline           = ["echo inline"]
    environment_vars = ["A=1", "B=two"]
    pause_before     = "5s"
    max_retries      = 3
    timeout          = "10m"
    only             = ["null.first"]
  }

  provisioner "shell" {
    script          = "files/hello.sh"
    execute_command = "chmod +x {{ .Path }}; sudo {{ .Vars }} {{ .Path }}"
    except          = ["null.first"]
  }

  provisioner "shell" {
    scripts           = ["files/hello.sh"]
    expect_disconnect = true
    valid_exit_codes  = [0, 2]
    skip_clean        = true
    remote_folder     = "/var/tmp"
  }

  provisioner "shell-local" {
    inline = ["echo default"]

    override = {
      first = {
        inline = ["echo overridden for first"]
      }
    }
  }

  provisioner "breakpoint" {
    note    = "inspect the machine"
    disable = true
  }
}
