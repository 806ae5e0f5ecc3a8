# Every GPU the fit checks know, with its specs.
data "rayvllm_gpu_catalog" "all" {}

output "gpus_with_fp8" {
  value = {
    for g in data.rayvllm_gpu_catalog.all.gpus : g.name => {
      memory_gib  = g.memory_gib
      bandwidth   = g.memory_bandwidth_gbps
      bf16_tflops = g.bf16_tflops
    } if g.fp8
  }
}
