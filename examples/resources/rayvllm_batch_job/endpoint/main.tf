# One engine for online traffic by day and the batch by night: the batch job
# sends its rows to a rayvllm_vllm_worker's OpenAI route (vllm.endpoint)
# instead of starting engines of its own. No fit check runs for the job:
# the worker's plan already checked that its engine fits.
resource "rayvllm_vllm_worker" "qwen" {
  dashboard_url    = "http://10.0.0.5:8265"
  name             = "qwen-7b"
  route_prefix     = "/qwen"
  model_id         = "qwen-7b"
  model_source     = "Qwen/Qwen2.5-7B-Instruct"
  accelerator_type = "A10G"
  max_model_len    = 8192
  max_num_seqs     = 8
  num_replicas     = 2
}

resource "rayvllm_batch_job" "nightly" {
  dashboard_url = "http://10.0.0.5:8265"
  vllm = {
    model_source = rayvllm_vllm_worker.qwen.model_id # the served model name
    endpoint = {
      url                     = "${rayvllm_vllm_worker.qwen.endpoint_url}/v1"
      max_requests_per_second = 40 # the whole job; at least 4 × concurrency
      max_retries             = 5  # on 429, 503, timeouts: backoff from 1 s
    }
    concurrency  = 4      # HTTP actors, 4 requests in flight each
    on_row_error = "skip" # a request the server refuses goes to <output>.errors
    input = {
      path                   = "s3://my-bucket/tickets/"
      format                 = "parquet"
      id_column              = "ticket_id"
      messages_column        = "messages"
      sampling_params_column = "sampling" # per-row overrides, e.g. {"max_tokens": 64}
    }
    output   = { path = "s3://my-bucket/answers/", passthrough_columns = ["queue"] }
    sampling = { max_tokens = 256, temperature = 0.2 }
  }
}
