h1 = <<EOT
x
  EOT
b=1
h3 = f(<<EOT
x
EOT
, 1)
h4 = [<<-EOT
    ${x}
    EOT
  , "y"]
h2 = <<EOT
EOT
