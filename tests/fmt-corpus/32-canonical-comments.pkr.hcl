# Builds the CCE node image.

// Region of Cloud.ru Advanced.
variable "region" {
  type    = string
  default = "ru-moscow-1" # the only region
}
