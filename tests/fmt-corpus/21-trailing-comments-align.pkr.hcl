variable "a" {
  type = string # the type
  default = "x" # the default
  description = "a variable" # the description
  sensitive = false
}
