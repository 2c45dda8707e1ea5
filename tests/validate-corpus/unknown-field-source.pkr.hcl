source "null" "basic" {
  comunicator = "none"
}

build {
  sources = ["source.null.basic"]
}
