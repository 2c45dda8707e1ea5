source "huaweicloud-ecs" "nested" {
  vpc_id = var.vpc_id
  data_disks {
  size = 100
  volume_type = "SSD"
  }
  data_disks {
     size=200
          volume_type="SAS"
  }
  tags = { owner = "ops", purpose="cce" }
}
