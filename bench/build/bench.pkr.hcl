# The build benchmark's template: one huaweicloud-ecs build on the embedded local cloud with a
# temporary VPC and EIP, one short provisioner, so the build's time is almost all cloud waits.
source "huaweicloud-ecs" "bench" {
  eip_type           = "5_bgp"
  eip_bandwidth_size = 5
  ssh_username       = "root"
  image_name         = "cce-ib-bench"
}

build {
  sources = ["source.huaweicloud-ecs.bench"]

  provisioner "shell" {
    inline = ["echo provisioned > /root/bench.txt"]
  }
}
