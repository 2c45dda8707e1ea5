region   = "ru-moscow-1"
replicas = "2"
tags = {
  team = "infra"
}
