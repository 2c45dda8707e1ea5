locals {
  b64      = base64encode("hello")
  decoded  = base64decode(local.b64)
  json     = jsonencode({ a = 1, b = ["x"] })
  parsed   = jsondecode("{\"k\": \"v\"}")
  yaml     = yamlencode({ a = 1 })
  yaml_in  = yamldecode("a: 1\nb: two\n")
  url      = urlencode("a b&c")
  csv      = csvdecode("name,size\nroot,50\n")
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = ["echo ${local.decoded} ${local.parsed.k} ${local.yaml_in.b} ${local.csv[0].size} ${local.url}"]
  }
}
