variable "prefix" {
  type    = string
  default = "node"
}
