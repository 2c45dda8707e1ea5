locals {
# not indented
      # over indented
  a = 1
      // another
  /* block */
}
