packer {
    required_version = ">= 1.6.6"
  required_plugins {
      huaweicloud = {
    version = ">= 1.0.0"
        source = "github.com/huaweicloud/huaweicloud"
      }
  }
}
