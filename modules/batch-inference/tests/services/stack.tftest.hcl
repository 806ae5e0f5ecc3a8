# Apply-level test of modules/batch-inference against the real services that
# `make test` starts (.ci/services.sh): moto as the EC2 and SSM endpoint, and
# a local Ray head with token auth. It is in its own directory because it
# needs them: `.ci/modules-check.sh test` runs it with
# `terraform test -test-directory=tests/services` only when RAY_ADDRESS and
# AWS_ENDPOINT_URL_EC2 are set, and passes in what moto and the machine
# provide as TF_VAR_*: name (unique per run), ami_id, subnet_id and
# iam_instance_profile (made in moto), ray_dashboard_url (the local Ray),
# input_uri (a 3-row prompts file) and output_uri (a fresh directory).
# The provider reads AWS_ENDPOINT_URL_EC2/_SSM, the dummy AWS credentials and
# RAY_AUTH_TOKEN from the environment.
#
# The cluster is created in moto without waiting for Ray (its instances never
# boot), and the job runs on the local Ray instead, through the module's
# ray_dashboard_url override. The local Ray has no GPU and no vLLM, so the job
# is the custom entrypoint job/batch.py, which gets the plan in its
# environment and prints the metrics line. After the test, modules-check.sh
# checks that destroy left nothing behind in moto or on Ray, and that the job
# wrote one answer per prompt.

provider "rayvllm" {}

variables {
  model                  = "Qwen/Qwen2.5-0.5B-Instruct"
  quantization           = "int4"
  model_source           = "Qwen/Qwen2.5-0.5B-Instruct-AWQ"
  instance_type          = "g5.xlarge"
  max_model_len          = 4096
  max_num_batched_tokens = 512
  batch_size             = 2
  concurrency            = 2
  num_requests           = 3
  mean_input_tokens      = 8
  mean_output_tokens     = 8
  sla_hours              = 1
  wait_for_ray           = false
  job_entrypoint         = "python batch.py"
  job_working_dir        = "tests/services/job"
  job_create_timeout     = "5m"
  tags                   = { purpose = "modules-check" }
}

run "stack_comes_up" {
  command = apply

  assert {
    # Head + concurrency 2 on 1-GPU g5.xlarge workers.
    condition = (
      length(rayvllm_inference_cluster.this.instance_ids) == 3 &&
      rayvllm_inference_cluster.this.total_gpus == 2 &&
      output.cluster.worker_count == 2 &&
      startswith(output.cluster.security_group_id, "sg-") &&
      output.cluster.auth_token_ssm_parameter == "/rayvllm/${var.name}/ray-auth-token"
    )
    error_message = "The cluster must come up in moto with a head and 2 GPU workers: ${jsonencode(output.cluster)}."
  }
  assert {
    condition     = can(regex("^http://[0-9.]+:8265$", output.dashboard_url))
    error_message = "The cluster's dashboard URL must be http://<head IP>:8265, got ${output.dashboard_url}."
  }
  assert {
    condition     = output.job_status == "SUCCEEDED" && output.job.mode == "entrypoint" && output.job.dashboard_url == var.ray_dashboard_url
    error_message = "The job must succeed on the local Ray: ${jsonencode(output.job)}."
  }
  assert {
    # batch.py answers each prompt with its words reversed: one token per
    # word in and out. The prompts file has 3 rows of 4, 5 and 6 words.
    condition = (
      output.job_metrics.rows == 3 && output.job_metrics.skipped_rows == 0 &&
      output.job_metrics.input_tokens == 15 && output.job_metrics.output_tokens == 15 &&
      output.job_metrics.wall_seconds > 0
    )
    error_message = "The job's metrics must be read back from its log: ${jsonencode(output.job_metrics)}."
  }
  assert {
    # With the job's start time known, the SLA rules get a deadline one
    # sla_hours after it, and BatchSLAViolated joins the alerts.
    condition = (
      output.monitoring.sla.enabled &&
      output.monitoring.sla.deadline_unix_seconds == output.monitoring.sla.job_start_unix_seconds + 3600 &&
      # modules/monitoring's RFC 3339 → Unix conversion, on Ray's start time
      # (whole seconds, so the start lies within the second it names).
      timecmp(timeadd("1970-01-01T00:00:00Z", "${output.monitoring.sla.job_start_unix_seconds}s"), output.job.start_time) <= 0 &&
      timecmp(timeadd("1970-01-01T00:00:00Z", "${output.monitoring.sla.job_start_unix_seconds + 1}s"), output.job.start_time) > 0 &&
      contains(output.monitoring.alert_names, "BatchSLAViolated") &&
      contains(output.monitoring.alert_names, "VLLMLowThroughput") &&
      !contains(output.monitoring.alert_names, "VLLMHighPrefillLatency") &&
      strcontains(output.rules_yaml, "ray_vllm_generation_tokens_total") &&
      strcontains(output.rules_yaml, "vector(${output.monitoring.sla.deadline_unix_seconds} - time())") &&
      length(jsondecode(output.dashboard_json).panels) > 0
    )
    error_message = "The monitoring artefacts must use Ray's names and the job's deadline: ${jsonencode(output.monitoring)}."
  }
  assert {
    condition     = output.predicted.meets_sla && output.predicted.gpus_used == 2 && output.cost.gpus == 2
    error_message = "The prediction must cover the 2 GPUs: ${jsonencode(output.predicted)}."
  }
}
