variable "access_key" {
  type      = string
  sensitive = true
  default   = env("HW_ACCESS_KEY")
}

variable "secret_key" {
  type      = string
  sensitive = true
  default   = env("HW_SECRET_KEY")
}

variable "disk_size" {
  type    = number
  default = 40

  validation {
    condition     = var.disk_size >= 40
    error_message = "The disk must be at least 40 GiB."
  }
}
