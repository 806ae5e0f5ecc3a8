# Pure Terraform: the module renders text and needs no provider.
terraform {
  required_version = ">= 1.8"
}
