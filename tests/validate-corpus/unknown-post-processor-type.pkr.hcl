source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  post-processor "manifests" {
    output = "manifest.json"
  }
}
