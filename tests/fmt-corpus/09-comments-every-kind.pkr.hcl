# A hash comment at the top.
// A slash comment.
/* A block comment
   over two lines. */

variable "region" { # trailing hash
  type = string // trailing slashes
  default = "ru-moscow-1" /* trailing block */
  description = "where to build"    # aligned?
}

/* before a block */ locals {
  a = 1 # one
  bbb = 2 # two
  cc = 3    // three
}
