output "matrix" {
  description = "One object per model × GPU or instance type × quantization, in input order: the inputs, `fits`, the memory accounting of `rayvllm_gpu_fit` (GiB per GPU, KV cache tokens, max concurrency, shortfall, reasons, suggestions) and the price per GPU-hour with its source (null when unknown)."
  value       = local.rows

  precondition {
    condition     = length(var.gpus) + length(var.instance_types) > 0
    error_message = "Set at least one of gpus (e.g. [\"L40S\"]) and instance_types (e.g. [\"g6e.xlarge\"]): the matrix has no hardware to check."
  }
}

output "markdown_table" {
  description = "The matrix as a markdown table, one row per configuration."
  value       = local.table
}

output "cheapest" {
  description = "Per model, the matrix row of the cheapest option per GPU-hour that fits with at least `min_concurrency` full-length sequences; ties go to the larger KV cache. Null for a model with no such priced option."
  value       = local.cheapest
}

output "summary" {
  description = "Counts: configurations checked and how many fit."
  value = {
    configurations = length(local.rows)
    fitting        = length([for r in local.rows : r if r.fits])
  }
}
