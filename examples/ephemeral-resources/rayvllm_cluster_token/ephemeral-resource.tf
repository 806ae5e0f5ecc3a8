# Terraform >= 1.10 or OpenTofu >= 1.11. The token is read from SSM on every
# plan and apply and is never written to the plan or the state.

# A provider configuration with AWS only, to read the token...
provider "rayvllm" {
  alias = "aws"
  aws {
    region = "us-east-1"
  }
}

ephemeral "rayvllm_cluster_token" "prod" {
  provider     = rayvllm.aws
  cluster_name = "prod-inference"
}

# ...and the one the Ray resources use. A provider block cannot read an
# ephemeral resource of its own configuration, hence the alias above.
provider "rayvllm" {
  dashboard_url = "http://10.0.0.5:8265"
  auth_token    = ephemeral.rayvllm_cluster_token.prod.token
  aws {
    region = "us-east-1"
  }
}
