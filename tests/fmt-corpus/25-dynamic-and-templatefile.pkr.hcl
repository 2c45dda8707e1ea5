source "huaweicloud-ecs" "d" {
  user_data = templatefile("${path.root}/cloud-init.yaml", {
    hostname = var.hostname
      ssh_keys = var.ssh_keys
  })
  dynamic "data_disks" {
    for_each = var.disks
    content {
      size = data_disks.value.size
        volume_type = data_disks.value.type
    }
  }
}
