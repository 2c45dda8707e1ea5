locals {
  a = "${var.list[0]}-${var.map["k"]}-${var.obj.attr}"
  b = "${ join(",", [for x in var.list: "${x}"]) }"
  c = "\"quoted\" \\ ${var.x} \n"
}
