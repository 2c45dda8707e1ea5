source "nul" "basic" {
  communicator = "none"
}

build {
  sources = ["source.nul.basic"]
}
