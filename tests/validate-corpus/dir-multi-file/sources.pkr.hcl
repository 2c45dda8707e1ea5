source "null" "basic" {
  communicator = "none"
}
