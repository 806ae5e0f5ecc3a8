locals {
  hardware = concat(
    [for g in var.gpus : { key = "gpu:${g}", kind = "gpu", name = g }],
    [for i in var.instance_types : { key = "instance_type:${i}", kind = "instance_type", name = i }],
  )
  # Row order: models, then GPUs and instance types, then quantizations, each
  # in input order.
  combos = [for c in setproduct(var.models, local.hardware, var.quantizations) : {
    key          = "${c[0]}|${c[1].key}|${c[2]}"
    model        = c[0]
    hw           = c[1]
    quantization = c[2]
  }]
}

# One fit check per configuration. require_fit = false: a misfit is a row of
# the matrix, not a plan error.
data "rayvllm_gpu_fit" "this" {
  for_each = { for c in local.combos : c.key => c }

  model                  = each.value.model
  gpu                    = each.value.hw.kind == "gpu" ? each.value.hw.name : null
  instance_type          = each.value.hw.kind == "instance_type" ? each.value.hw.name : null
  quantization           = each.value.quantization
  kv_cache_dtype         = var.kv_cache_dtype
  max_model_len          = var.max_model_len
  gpu_memory_utilization = var.gpu_memory_utilization
  max_num_batched_tokens = var.max_num_batched_tokens
  max_num_seqs           = var.max_num_seqs
  tensor_parallel_size   = var.tensor_parallel_size
  require_fit            = false
}

# The EC2 catalog, for prices per GPU-hour.
data "rayvllm_gpus" "catalog" {}

locals {
  ec2         = data.rayvllm_gpus.catalog.instance_types
  ec2_by_name = { for it in local.ec2 : it.instance_type => it }
  # Cheapest instance type per GPU (per GPU-hour), for bare GPUs without a
  # price in var.gpu_prices_per_hour_usd.
  ec2_cheapest_by_gpu = {
    for g in distinct([for it in local.ec2 : it.gpu]) : g => [
      for it in local.ec2 : it
      if it.gpu == g && it.price_per_gpu_hour_usd == min([for x in local.ec2 : x.price_per_gpu_hour_usd if x.gpu == g]...)
    ][0]
  }

  rows = [for c in local.combos : {
    model                  = c.model
    hardware               = c.hw.name
    gpu                    = data.rayvllm_gpu_fit.this[c.key].gpu_name
    instance_type          = c.hw.kind == "instance_type" ? c.hw.name : null
    quantization           = c.quantization
    fits                   = data.rayvllm_gpu_fit.this[c.key].fits
    gpu_total_memory_gib   = data.rayvllm_gpu_fit.this[c.key].gpu_total_memory_gib
    budget_gib             = data.rayvllm_gpu_fit.this[c.key].budget_gib
    weights_gib            = data.rayvllm_gpu_fit.this[c.key].weights_gib
    activation_peak_gib    = data.rayvllm_gpu_fit.this[c.key].activation_peak_gib
    kv_cache_gib           = data.rayvllm_gpu_fit.this[c.key].kv_cache_gib
    kv_cache_tokens        = data.rayvllm_gpu_fit.this[c.key].kv_cache_tokens
    max_concurrency        = data.rayvllm_gpu_fit.this[c.key].max_concurrency
    max_model_len          = data.rayvllm_gpu_fit.this[c.key].effective_max_model_len
    headroom_gib           = data.rayvllm_gpu_fit.this[c.key].headroom_gib
    shortfall_gib          = data.rayvllm_gpu_fit.this[c.key].shortfall_gib
    reasons                = data.rayvllm_gpu_fit.this[c.key].reasons
    suggestions            = data.rayvllm_gpu_fit.this[c.key].suggestions
    price_per_gpu_hour_usd = local.prices[c.key].usd
    price_source           = local.prices[c.key].source
  }]

  prices = { for c in local.combos : c.key => (
    c.hw.kind == "instance_type" ? { usd = local.ec2_by_name[c.hw.name].price_per_gpu_hour_usd, source = "ec2:${c.hw.name}" } :
    contains(keys(var.gpu_prices_per_hour_usd), c.hw.name) ? { usd = var.gpu_prices_per_hour_usd[c.hw.name], source = "gpu_prices_per_hour_usd" } :
    contains(keys(var.gpu_prices_per_hour_usd), data.rayvllm_gpu_fit.this[c.key].gpu_name) ? { usd = var.gpu_prices_per_hour_usd[data.rayvllm_gpu_fit.this[c.key].gpu_name], source = "gpu_prices_per_hour_usd" } :
    contains(keys(local.ec2_cheapest_by_gpu), data.rayvllm_gpu_fit.this[c.key].gpu_name) ? {
      usd    = local.ec2_cheapest_by_gpu[data.rayvllm_gpu_fit.this[c.key].gpu_name].price_per_gpu_hour_usd
      source = "ec2:${local.ec2_cheapest_by_gpu[data.rayvllm_gpu_fit.this[c.key].gpu_name].instance_type}"
    } :
    { usd = null, source = null }
  ) }

  # Cheapest per model: fitting, with a price and at least min_concurrency
  # full-length sequences; ties on price go to the most KV-cache capacity.
  candidates = { for m in var.models : m => [
    for r in local.rows : r if r.model == m && r.fits && r.max_concurrency >= var.min_concurrency && r.price_per_gpu_hour_usd != null
  ] }
  min_price = { for m, cs in local.candidates : m => length(cs) == 0 ? null : min([for r in cs : r.price_per_gpu_hour_usd]...) }
  cheapest = { for m, cs in local.candidates : m => length(cs) == 0 ? null : [
    for r in cs : r if r.price_per_gpu_hour_usd == local.min_price[m] && r.max_concurrency == max([for x in cs : x.max_concurrency if x.price_per_gpu_hour_usd == local.min_price[m]]...)
  ][0] }

  table = join("\n", concat(
    [
      "| Model | GPU | Instance type | Quantization | Fits | Weights GiB | KV cache GiB | KV cache tokens | Max concurrency | Shortfall GiB | USD per GPU-hour |",
      "|---|---|---|---|---|--:|--:|--:|--:|--:|--:|",
    ],
    [for r in local.rows : format("| %s | %s | %s | %s | %s | %.2f | %.2f | %d | %.2f | %.2f | %s |",
      r.model, r.gpu, coalesce(r.instance_type, "-"), r.quantization, r.fits ? "yes" : "no",
      r.weights_gib, r.kv_cache_gib, r.kv_cache_tokens, r.max_concurrency, r.shortfall_gib,
    r.price_per_gpu_hour_usd == null ? "-" : format("%.4f", r.price_per_gpu_hour_usd))],
  ))
}
