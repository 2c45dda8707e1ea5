a1 = 1 /* c */ # d
bb1 = 2 /* e */
/* a */ b2 = 1
  /* x */
a3 = 1
# c
bb3 = 2
a4 = 1 # x

bb4 = 2 # y
ccc4 = [ # z
  1, # one
  22, # two
] # end
