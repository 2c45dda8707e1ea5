build {
  name = "a"
  sources = ["b"]
  post-processor "manifest" {
    output = "manifest.json"
    strip_path = true
  }
  description = "x"
}
