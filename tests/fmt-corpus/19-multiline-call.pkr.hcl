locals {
  tags = merge(
  var.common_tags,
      {
    Name = "cce"
        Role = "node"
  },
  )
  trimmed = trimspace(
        file("${path.root}/VERSION")
     )
}
