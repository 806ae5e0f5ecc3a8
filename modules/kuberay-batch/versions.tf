terraform {
  required_version = ">= 1.8"
  required_providers {
    rayvllm = {
      source = "rayvllm/rayvllm"
    }
  }
}
