# A Ray cluster for batch inference: a CPU head, a fixed GPU worker group and
# an autoscaled spot group.
# The nodes install the pinned Ray and vLLM at boot and join with Ray token
# auth; the token is generated here and kept in SSM.
provider "rayvllm" {
  aws {
    region       = "us-east-1"
    default_tags = { project = "batch-llm" }
  }
}

variable "my_cidr" {
  description = "Your public IP as a /32, allowed to reach the Ray dashboard."
  type        = string
}

resource "rayvllm_inference_cluster" "this" {
  name                 = "batch-llm"
  ami_id               = "ami-0123456789abcdef0" # e.g. an AWS Deep Learning AMI (NVIDIA driver)
  subnet_id            = "subnet-0123456789abcdef0"
  iam_instance_profile = "rayvllm-node" # ssm:GetParameter (+ kms:Decrypt) on the two tokens

  ray_version     = "2.60.0"
  vllm_version    = "0.29.0"
  python_packages = ["pandas==2.2.3"]

  # The *name* of a SecureString holding a Hugging Face token; the nodes read
  # it at boot. The token never enters user data or state.
  hf_token_ssm_parameter  = "/hf/token"
  dashboard_ingress_cidrs = [var.my_cidr]

  head {
    instance_type = "m7i.2xlarge"
  }

  worker_group {
    name          = "l40s"
    instance_type = "g6e.xlarge"
    count         = 2
  }

  # Autoscaled by Ray's own autoscaler on the head: no GPU while there is no
  # work, up to 4 for pending demand, spot first with an on-demand fallback.
  # Idle workers are terminated after idle_timeout_minutes.
  worker_group {
    name                       = "a10g-spot"
    instance_type              = "g5.xlarge"
    min_workers                = 0
    max_workers                = 4
    spot_fallback_to_on_demand = true
    spot {
      max_price_usd = "0.80"
    }
  }
  idle_timeout_minutes = 10

  # Fails the plan when the model would not fit on a group's GPUs.
  fit_check {
    model         = "Qwen/Qwen2.5-7B-Instruct"
    max_model_len = 8192
  }

  tags = { team = "ml" }

  timeouts = {
    create = "40m"
  }
}

output "dashboard_url" {
  value = rayvllm_inference_cluster.this.dashboard_url
}

output "gpus_and_cost" {
  value = "${rayvllm_inference_cluster.this.total_gpus} GPUs, ${rayvllm_inference_cluster.this.hourly_cost_usd} USD/hour on demand"
}
