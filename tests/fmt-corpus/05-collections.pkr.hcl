variable "tags" {
  type = map(string)
  default = {
  "env"="prod"
      team   = "platform"
    "cost-center" = "42"
  }
}

variable "zones" {
  type    = list(string)
  default = [ "ru-moscow-1a","ru-moscow-1b" ,  "ru-moscow-1c" ]
}
