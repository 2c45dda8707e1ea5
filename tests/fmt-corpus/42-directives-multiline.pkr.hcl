locals {
  list = <<EOT
%{ for z in var.zones ~}
zone: ${ z }
%{ endfor ~}
EOT
  cond = "%{if var.debug}debug%{else}quiet%{endif}"
}
