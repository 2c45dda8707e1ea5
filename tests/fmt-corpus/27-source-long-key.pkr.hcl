source "huaweicloud-ecs" "turbo" {
  region            = var.region
  availability_zone = "ru-moscow-1a"
  flavor            = "s7n.large.2"
  source_image_name = "Ubuntu 22.04 server 64bit"
  image_name        = "cce-node-${local.stamp}"
  ssh_username      = "root"
  eip_type          = "5_bgp"
  eip_bandwidth_size = 100
}
