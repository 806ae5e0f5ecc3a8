#!/usr/bin/env bash
# `terraform plan` over 1000 rayvllm_gpu_fit data sources and, in the same
# run, over 1000 terraform_data resources; BENCH_RUNS (default 3) rounds of
# the two plans one after the other; prints each round's times and ratio,
# and the median ratio with its range.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${BENCH_N:-1000}
runs=${BENCH_RUNS:-3}
work=.tmp/bench-plan
rm -rf "$work"; mkdir -p "$work/fit" "$work/base"
cat > "$work/fit/main.tf" <<TF
terraform {
  required_providers {
    rayvllm = { source = "rayvllm/rayvllm" }
  }
}
locals {
  models = ["Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-7B-Instruct", "meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-2-13b-hf"]
  gpus   = ["RTX-3090", "A100-80GB", "H100-80GB-SXM", "L40S", "L4"]
  quants = ["fp16", "int8", "int4", "fp8"]
}
data "rayvllm_gpu_fit" "m" {
  for_each      = { for i in range($n) : tostring(i) => i }
  model         = local.models[each.value % 4]
  gpu           = local.gpus[floor(each.value / 4) % 5]
  quantization  = local.quants[floor(each.value / 20) % 4]
  max_model_len = 1024 + each.value
  require_fit   = false
}
output "fits" { value = length([for v in data.rayvllm_gpu_fit.m : v if v.fits]) }
TF
cat > "$work/base/main.tf" <<TF
resource "terraform_data" "m" {
  for_each = { for i in range($n) : tostring(i) => i }
  input    = each.value
}
TF
tf=$PWD/bin/terraform
(cd "$work/fit" && $tf init -input=false >/dev/null)
(cd "$work/base" && $tf init -input=false >/dev/null)
t() { local s e; s=$(date +%s.%N); (cd "$1" && $tf plan -input=false -refresh=true -out=/dev/null >/dev/null); e=$(date +%s.%N); awk -v a="$s" -v b="$e" 'BEGIN{printf "%.3f", b-a}'; }
printf '| plan over %d (round) | rayvllm_gpu_fit data sources, s | terraform_data resources, s | ratio |\n|---|---:|---:|---:|\n' "$n"
ratios=()
for r in $(seq 1 "$runs"); do
  fit=$(t "$work/fit"); base=$(t "$work/base")
  ratio=$(awk -v a="$fit" -v b="$base" 'BEGIN{printf "%.2f", a/b}')
  ratios+=("$ratio")
  printf '| %d | %.2f | %.2f | %s× |\n' "$r" "$fit" "$base" "$ratio"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR]=$1} END{m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "\nratio: median %.2f×, range %.2f–%.2f× over %d rounds\n", m, v[1], v[NR], NR}'
