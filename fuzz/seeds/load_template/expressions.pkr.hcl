variable "servers" {
  type = list(object({
    name = string
    size = number
  }))
  default = [
    { name = "a", size = 10 },
    { name = "b", size = 60 },
  ]
}

variable "debug" {
  type    = bool
  default = false
}

locals {
  names      = var.servers[*].name
  big        = [for s in var.servers : s.name if s.size > 40]
  by_name    = { for s in var.servers : s.name => s.size }
  mode       = var.debug ? "debug" : "quiet"
  arithmetic = (1 + 2) * 3 % 4 - 10 / 5
  logic      = !var.debug && (1 < 2 || false) && "a" == "a" && 1 != 2
  nested     = { outer = { inner = [1, 2, 3] } }
  indexed    = local.nested.outer.inner[2]
  greeting   = "names: %{for n in local.names}${n};%{endfor} %{if var.debug}on%{else}off%{endif}"
  escaped    = "literal $${not_interpolated} and %%{not_a_directive}"
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = [
      "echo ${join(",", local.names)} ${join(",", local.big)} ${local.by_name["b"]}",
      "echo ${local.mode} ${local.arithmetic} ${local.logic} ${local.indexed}",
      "echo '${local.greeting}' '${local.escaped}'",
    ]
  }
}
