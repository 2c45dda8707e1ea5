variable "name" {
  type    = string
  default = "node"
}

variable "count_of" {
  type    = number
  default = 3
}

variable "enabled" {
  type    = bool
  default = true
}

variable "tags" {
  type    = list(string)
  default = ["a", "b"]
}

variable "labels" {
  type    = map(string)
  default = { team = "infra", env = "dev" }
}

variable "disk" {
  type = object({
    size = number
    type = string
  })
  default = { size = 50, type = "SSD" }
}

variable "pair" {
  type    = tuple([string, number])
  default = ["x", 1]
}

variable "anything" {
  default = "untyped"
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = [
      "echo ${var.name} ${var.count_of} ${var.enabled}",
      "echo ${join(",", var.tags)} ${var.labels["team"]}",
      "echo ${var.disk.size} ${var.disk.type} ${var.pair[0]} ${var.pair[1]} ${var.anything}",
    ]
  }
}
