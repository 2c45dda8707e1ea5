region="ru-moscow-1"
flavor   =  "s7n.large.2"
image_name = "cce-node"
disk_size=40
debug     =false
