locals {
  words = split(",", "a,b,c")
  values = [
    upper("abc"),
    lower("ABC"),
    title("hello world"),
    replace("a-b-c", "-", "_"),
    join("/", local.words),
    format("%s-%03d", "node", 7),
    trimspace("  x  "),
    trim("--x--", "-"),
    trimsuffix("image.qcow2", ".qcow2"),
    trimprefix("v1.2", "v"),
    substr("abcdef", 1, 3),
    chomp("line\n"),
    indent(2, "a\nb"),
    strrev("abc"),
    regex_replace("a1b2", "[0-9]", "#"),
  ]
  list = formatlist("item-%s", local.words)
}

source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  provisioner "shell-local" {
    inline = concat(local.values, local.list)
  }
}
