source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  post-processor "checksum" {
    checksum_types = ["crc32"]
  }
}
