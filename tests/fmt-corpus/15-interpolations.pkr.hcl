locals {
  name = "cce-${ var.cluster }-${local.stamp }"
  path = "${path.root}/files/${ var.name}.conf"
  dir  = "%{ for z in var.zones }${z},%{ endfor }"
  esc  = "literal $${not_interp} and %%{not_directive}"
  obj  = "${ {a = 1}["a"] }"
  tilde = "${~ var.x ~}"
}
