locals {
  matrix = [[1, 2], [
    3, 4],
  [5,
  6]]
  weird = { a = [
  1,
  2] }
}
