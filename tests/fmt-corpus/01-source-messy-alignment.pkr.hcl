source "huaweicloud-ecs" "turbo" {
  region = "ru-moscow-1"
     flavor = "s7n.large.2"
  image_name= "cce-node-${local.stamp}"
  source_image_name     =    "Ubuntu 22.04 server 64bit"
  ssh_username =   "root"
  eip_type = "5_bgp"
  eip_bandwidth_size  = 100
}
