variable "region" {
  type    = string
  default = "ru-moscow-1"

  validation {
    condition     = length(split("-", var.region)) == 3 && substr(var.region, 0, 3) == "ru-"
    error_message = "The region must look like ru-moscow-1 (three dash-separated parts)."
  }
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]
}
