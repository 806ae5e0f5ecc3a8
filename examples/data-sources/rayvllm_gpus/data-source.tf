# Cheapest EC2 GPU capacity with at least 40 GiB per GPU and fp8 tensor cores.
data "rayvllm_gpus" "fp8_40g" {
  min_memory_gib = 40
  fp8            = true
}

output "cheapest" {
  value = data.rayvllm_gpus.fp8_40g.instance_types[0].instance_type
}
