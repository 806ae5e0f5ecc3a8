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

  # Hugging Face Hub access for a `model` outside the built-in catalog
  # (or HF_TOKEN / HF_ENDPOINT in the environment). Gated models need a token.
  # hf_token    = var.hf_token
  # hf_endpoint = "https://hf-mirror.example.com"

  # AWS settings for rayvllm_inference_cluster. Credentials come from the
  # SDK's standard chain: environment, shared config, SSO, IMDS.
  aws {
    region = "us-east-1"
    default_tags = {
      team = "ml-infra"
    }
  }
}
