region      = "ru-moscow-1"
flavor      = "s7n.large.2"
disk_size   = 40
debug       = false
extra_files = ["a", "b"]
