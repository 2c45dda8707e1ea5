greeting = "from a var file"
replicas = 3
