terraform {
  required_providers {
    rayvllm = {
      source = "rayvllm/rayvllm"
    }
  }
}

# The data sources and functions need no configuration and no cloud account.
provider "rayvllm" {
  # Ray connection for rayvllm_batch_job and rayvllm_vllm_worker
  # (or RAY_ADDRESS / RAY_AUTH_TOKEN in the environment).
  dashboard_url = "http://127.0.0.1:8265"

  # AWS settings for rayvllm_inference_cluster. Credentials come from the
  # SDK's standard chain: environment, shared config, SSO, IMDS.
  aws {
    region = "us-east-1"
    default_tags = {
      team = "ml-infra"
    }
  }
}
