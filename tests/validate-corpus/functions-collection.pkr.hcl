locals {
  merged   = merge({ a = 1 }, { b = 2 })
  keys     = keys(local.merged)
  values   = values(local.merged)
  flat     = flatten([["a"], ["b", ["c"]]])
  uniq     = distinct(["a", "a", "b"])
  has_b    = contains(local.uniq, "b")
  numbers  = range(1, 4)
  zipped   = zipmap(["x", "y"], [1, 2])
  sliced   = slice(["a", "b", "c", "d"], 1, 3)
  sorted   = sort(["c", "a", "b"])
  reversed = reverse([1, 2, 3])
  second   = element(["a", "b"], 3)
  found    = lookup({ a = "x" }, "b", "fallback")
  first    = coalesce("", "b")
  list     = coalescelist([], ["z"])
  compacted = compact(["a", "", "b"])
  chunks   = chunklist(["a", "b", "c"], 2)
  union    = setunion(["a"], ["b"])
  common   = setintersection(["a", "b"], ["b"])
  product  = setproduct(["a"], ["x", "y"])
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = [
      "echo ${length(local.keys)} ${length(local.flat)} ${local.has_b} ${local.second} ${local.found}",
      "echo ${local.first} ${length(local.chunks)} ${length(local.product)}",
      "echo ${join(",", local.sorted)} ${join(",", local.compacted)} ${local.zipped["y"]}",
    ]
  }
}
