variable "empty" {}

locals {}
