variable "access_key" {
  type      = string
  default   = "AKEXAMPLEEXAMPLE0001"
  sensitive = true
}

variable "secret_key" {
  type      = string
  default   = "skexampleexampleexampleexampleexample0001"
  sensitive = true
}

source "huaweicloud-ecs" "builder" {
  access_key         = var.access_key
  secret_key         = var.secret_key
  region             = "ru-moscow-1"
  auth_url           = "https://iam.ru-moscow-1.hc.sbercloud.ru/v3"
  availability_zone  = "ru-moscow-1b"
  flavor             = "s7n.large.2"
  source_image       = "0a1b2c3d-0000-4000-8000-000000000001"
  vpc_id             = "0a1b2c3d-0000-4000-8000-000000000002"
  subnets            = ["0a1b2c3d-0000-4000-8000-000000000003"]
  security_groups    = ["0a1b2c3d-0000-4000-8000-000000000004"]
  eip_type           = "5_bgp"
  eip_bandwidth_size = 5
  volume_type        = "SSD"
  volume_size        = 50
  ssh_username       = "root"
  image_name         = "corpus-node"
  image_tags = {
    purpose = "corpus"
  }
}

build {
  sources = ["source.huaweicloud-ecs.builder"]

  provisioner "shell" {
    inline = ["uname -a"]
  }

  post-processor "manifest" {
    output = "output/manifest.json"
  }
}
