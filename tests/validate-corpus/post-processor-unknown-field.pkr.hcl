source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  post-processor "manifest" {
    outptu = "manifest.json"
  }
}
