variable "volume_size" {
  type    = number
  default = 10

  validation {
    condition     = var.volume_size >= 40
    error_message = "The volume_size must be at least 40 GB."
  }
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]
}
