package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

func TestAccBatchSizingDataSource(t *testing.T) {
	unitPreCheck(t)
	t.Parallel()
	const ds = "data.rayvllm_batch_sizing.run"
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: `
data "rayvllm_batch_sizing" "run" {
  model              = "meta-llama/Llama-3.1-8B-Instruct"
  instance_type      = "p5.48xlarge"
  max_model_len      = 4096
  num_requests       = 1000000
  mean_input_tokens  = 500
  mean_output_tokens = 200
  concurrency        = 2
  batch_size         = 64
}
data "rayvllm_batch_sizing" "sla" {
  model              = "meta-llama/Llama-3.1-8B-Instruct"
  instance_type      = "p5.48xlarge"
  max_model_len      = 4096
  num_requests       = 1000000
  mean_input_tokens  = 500
  mean_output_tokens = 200
  sla_hours          = 1
  objective          = "latency"
}
locals {
  r = data.rayvllm_batch_sizing.run
  s = data.rayvllm_batch_sizing.sla
}
output "hours_consistent" {
  # planned for "safe" (the default): hours = requests / (low end of req/s) / 3600 + start-up
  value = abs(local.r.hours_to_complete - 1000000 / local.r.requests_per_second_low / 3600 - local.r.startup_seconds / 3600) / local.r.hours_to_complete < 0.01
}
output "cost_consistent" {
  # Whole instances are billed: 2 GPUs of one p5.48xlarge cost the instance.
  value = local.r.instances_required == 1 && abs(local.r.cost_usd - local.r.hours_to_complete * data.rayvllm_gpus.p5.instance_types[0].price_per_hour_usd) < 0.05
}
output "tokens_consistent" {
  value = abs(local.r.output_tokens_per_second - local.r.requests_per_second * 200) / local.r.output_tokens_per_second < 0.01
}
output "decode_roofline" {
  # Every decode step reads the 15 GiB of bf16 weights from HBM (3350 GB/s on
  # an H100 SXM), so one replica runs at most 3350e9 / 16.06e9 = 208.6 steps/s,
  # each emitting at most max_num_seqs tokens.
  value = local.r.per_replica_output_tokens_per_second <= 208.6 * local.r.max_num_seqs
}
output "kv_bound" {
  # max_num_seqs never asks for more KV than the cache holds.
  value = local.r.max_num_seqs * 700 <= local.r.fit.kv_cache_tokens
}
output "sla_met_by_gpus_required" {
  value = local.s.gpus_required >= 1 && local.s.meets_sla == (local.s.gpus_used >= local.s.gpus_required)
}
data "rayvllm_gpus" "p5" {
  instance_type_prefix = "p5.48xlarge"
}`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("gpus_used"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("concurrency"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("batch_size"), knownvalue.Int64Exact(64)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("fit").AtMapKey("fits"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("data.rayvllm_batch_sizing.sla", tfjsonpath.New("max_num_batched_tokens"), knownvalue.Int64Exact(512)),
					statecheck.ExpectKnownOutputValue("hours_consistent", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("cost_consistent", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("tokens_consistent", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("decode_roofline", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("kv_bound", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("sla_met_by_gpus_required", knownvalue.Bool(true)),
				},
			},
			{
				Config: `
data "rayvllm_batch_sizing" "x" {
  model              = "meta-llama/Llama-3.1-8B-Instruct"
  gpu                = "L4"
  num_requests       = 0
  mean_input_tokens  = 500
  mean_output_tokens = 200
}`,
				ExpectError: regexp.MustCompile(`(?s)num_requests.*at least 1`),
			},
			{
				Config: `
data "rayvllm_batch_sizing" "x" {
  model              = "meta-llama/Llama-3.1-8B-Instruct"
  gpu                = "L4"
  num_requests       = 10
  mean_input_tokens  = 500
  mean_output_tokens = 200
  objective          = "cheap"
}`,
				ExpectError: regexp.MustCompile(`(?s)objective.*throughput`),
			},
			{
				Config: `
data "rayvllm_batch_sizing" "x" {
  model              = "meta-llama/Llama-3.1-8B-Instruct"
  gpu                = "T4"
  num_requests       = 10
  mean_input_tokens  = 500
  mean_output_tokens = 200
  engine_kwargs_json = jsonencode({ cpu_offload_gb = 8 })
}`,
				ExpectError: regexp.MustCompile(`(?s)engine_kwargs_json.*sizing does not model cpu_offload_gb`),
			},
			{
				Config: `
data "rayvllm_batch_sizing" "x" {
  model              = "meta-llama/Llama-3.1-70B-Instruct"
  gpu                = "L4"
  num_requests       = 10
  mean_input_tokens  = 500
  mean_output_tokens = 200
}`,
				ExpectError: regexp.MustCompile(`does not fit`),
			},
			{
				Config: `
data "rayvllm_batch_sizing" "x" {
  model              = "meta-llama/Llama-3.1-8B-Instruct"
  gpu                = "H100-80GB-SXM"
  num_requests       = 10
  mean_input_tokens  = 500
  mean_output_tokens = 200
  gpus               = 3
  concurrency        = 2
}`,
				ExpectError: regexp.MustCompile(`(?s)gpus.*concurrency`),
			},
		},
	})
}

// The engine context, the vLLM version, the leave-one-out range, whole
// instances and the closed loop from a measured run, through the real CLI.
func TestAccBatchSizingDataSource_engineContextRangeAndMeasuredRun(t *testing.T) {
	unitPreCheck(t)
	t.Parallel()
	const ds = "data.rayvllm_batch_sizing.g6e"
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: `
data "rayvllm_batch_sizing" "g6e" {
  model              = "meta-llama/Llama-3.1-8B-Instruct"
  instance_type      = "g6e.12xlarge"
  max_model_len      = 8192
  num_requests       = 50000000
  mean_input_tokens  = 400
  mean_output_tokens = 150
  sla_hours          = 12
}
data "rayvllm_batch_sizing" "measured" {
  model              = "meta-llama/Llama-3.1-8B-Instruct"
  instance_type      = "g6e.12xlarge"
  max_model_len      = 8192
  num_requests       = 50000000
  mean_input_tokens  = 400
  mean_output_tokens = 150
  sla_hours          = 12
  measured_run = {
    engine_output_tokens_per_second = 1000
    mean_input_tokens               = 400
    mean_output_tokens              = 150
    replicas                        = 1
    requests                        = 100000
  }
}
# Llama-3.1-8B on an L4 at max_model_len 34816: Ray Data LLM's defaults
# (2048/128) leave room for one full-length request; the OpenAI server's
# (2048/256, a larger sampler profile: 128 more rows of logits) do not.
data "rayvllm_gpu_fit" "batch_job" {
  model         = "meta-llama/Llama-3.1-8B-Instruct"
  gpu           = "L4"
  max_model_len = 34816
}
data "rayvllm_gpu_fit" "worker" {
  model          = "meta-llama/Llama-3.1-8B-Instruct"
  gpu            = "L4"
  max_model_len  = 34816
  engine_context = "worker"
  require_fit    = false
}
data "rayvllm_gpu_fit" "old" {
  model         = "meta-llama/Llama-3.1-8B-Instruct"
  gpu           = "L4"
  max_model_len = 34816
  vllm_version  = "0.20.1"
}
locals {
  g = data.rayvllm_batch_sizing.g6e
  m = data.rayvllm_batch_sizing.measured
}
output "range" {
  value = local.g.requests_per_second_low < local.g.requests_per_second && local.g.requests_per_second < local.g.requests_per_second_high
}
output "whole_instances" {
  value = local.g.instances_required == ceil(local.g.gpus_required / 4)
}
output "rescaled_note" {
  value = length([for n in local.m.notes : n if strcontains(n, "rescaled by")]) == 1
}
output "rescaled_slower" {
  # 1000 tok/s measured is below the model's prediction for one L40S.
  value = local.m.per_replica_requests_per_second < local.g.per_replica_requests_per_second && local.m.gpus_required > local.g.gpus_required
}
output "graphs_from_kv_since_021" {
  value = data.rayvllm_gpu_fit.old.kv_cache_tokens > data.rayvllm_gpu_fit.batch_job.kv_cache_tokens
}
output "note_names_calibration" {
  value = length([for n in local.g.notes : n if strcontains(n, "grouped cross-validation") && strcontains(n, "plan for")]) == 1
}`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.batch_job", tfjsonpath.New("fits"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.worker", tfjsonpath.New("fits"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.batch_job", tfjsonpath.New("cuda_graph_in_kv_budget"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.old", tfjsonpath.New("cuda_graph_in_kv_budget"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("meets_sla"), knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("range", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("whole_instances", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("rescaled_note", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("rescaled_slower", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("graphs_from_kv_since_021", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("note_names_calibration", knownvalue.Bool(true)),
				},
			},
			{
				Config: `
data "rayvllm_batch_sizing" "x" {
  model              = "meta-llama/Llama-3.1-8B-Instruct"
  gpu                = "L4"
  num_requests       = 10
  mean_input_tokens  = 500
  mean_output_tokens = 200
  engine_context     = "serve"
}`,
				ExpectError: regexp.MustCompile(`(?s)engine_context.*batch_job`),
			},
			{
				Config: `
data "rayvllm_batch_sizing" "x" {
  model              = "meta-llama/Llama-3.1-8B-Instruct"
  gpu                = "L4"
  max_model_len      = 8192
  num_requests       = 10
  mean_input_tokens  = 500
  mean_output_tokens = 200
  vllm_version       = "0.6.6"
}`,
				ExpectError: regexp.MustCompile(`(?s)vllm_version.*V0`),
			},
			{
				Config: `
data "rayvllm_batch_sizing" "x" {
  model                = "meta-llama/Llama-3.1-8B-Instruct"
  instance_type        = "g6e.xlarge"
  max_model_len        = 8192
  tensor_parallel_size = 4
  num_requests         = 10
  mean_input_tokens    = 500
  mean_output_tokens   = 200
}`,
				ExpectError: regexp.MustCompile(`(?s)tensor_parallel_size.*1 GPU`),
			},
		},
	})
}
