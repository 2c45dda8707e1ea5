locals {
  image_name = "${var.prefix}-${local.suffix}"
  suffix     = "v2"
}
