build {
  name    = "turbo-node"
  sources = ["source.huaweicloud-ecs.turbo"]

  provisioner "shell" {
    execute_command = "chmod +x {{ .Path }}; sudo -E sh '{{ .Path }}'"
    scripts = [
      "scripts/00-base.sh",
      "scripts/10-containerd.sh",
      "scripts/20-kubelet.sh",
    ]
  }

  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
  }
}
