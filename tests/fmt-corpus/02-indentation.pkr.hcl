build {
sources = ["source.huaweicloud-ecs.turbo"]
provisioner "shell" {
inline = [
"apt-get update",
"apt-get install -y containerd",
]
}
      provisioner "file" {
  source = "files/"
          destination = "/tmp/"
                }
}
