variable "empty" {}
variable "oneline" { default = 1 }
variable "oneline2" {default=2}
locals {   }
