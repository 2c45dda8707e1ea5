locals {
  disks = {
    system = {
      size = 40
        type = "SSD"
    }
    data = {size=100, type="SAS"}
    empty = {}
    spaced = {  }
  }
}
