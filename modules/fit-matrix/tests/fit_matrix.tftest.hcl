# terraform test for modules/fit-matrix against the real provider (built by
# `make install` into the local mirror). Data sources only: plans need no
# backend and no cloud account, so no mock_provider.

variables {
  models        = ["Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-7B-Instruct", "meta-llama/Llama-2-13b-hf"]
  gpus          = ["RTX-3090", "A100-80GB", "H100-80GB-SXM", "RTX-4090", "L40S"]
  quantizations = ["fp32", "fp16", "int8", "int4"]
  max_model_len = 4096
  gpu_prices_per_hour_usd = {
    "RTX-3090" = 0.5
  }
}

run "phase5_matrix" {
  command = plan

  assert {
    condition     = length(output.matrix) == length(var.models) * length(var.gpus) * length(var.quantizations)
    error_message = "Expected one row per model × GPU × quantization (60), got ${length(output.matrix)}."
  }
  assert {
    condition = (
      output.matrix[0].model == var.models[0] && output.matrix[0].hardware == var.gpus[0] && output.matrix[0].quantization == var.quantizations[0] &&
      output.matrix[59].model == var.models[2] && output.matrix[59].hardware == var.gpus[4] && output.matrix[59].quantization == var.quantizations[3]
    )
    error_message = "Rows must come in input order: models, then GPUs, then quantizations."
  }
  assert {
    # 13e9 parameters × 4 bytes = 48 GiB of weights: cannot fit a 24 GB card.
    condition     = one([for r in output.matrix : r if r.model == "meta-llama/Llama-2-13b-hf" && r.gpu == "RTX-3090" && r.quantization == "fp32"]).fits == false
    error_message = "Llama-2-13B in fp32 must not fit an RTX 3090."
  }
  assert {
    condition     = alltrue([for r in output.matrix : r.shortfall_gib > 0 && length(r.reasons) > 0 if !r.fits])
    error_message = "Every misfit needs a shortfall and reasons."
  }
  assert {
    condition     = one([for r in output.matrix : r if r.model == "Qwen/Qwen2.5-0.5B-Instruct" && r.gpu == "A100-80GB" && r.quantization == "fp16"]).fits
    error_message = "Qwen2.5-0.5B in fp16 must fit an 80 GB A100."
  }
  assert {
    condition     = output.summary.configurations == 60 && output.summary.fitting == length([for r in output.matrix : r if r.fits]) && output.summary.fitting < 60
    error_message = "Summary must count the rows and the fitting ones: ${jsonencode(output.summary)}."
  }
  assert {
    condition     = length(split("\n", output.markdown_table)) == 62 && startswith(output.markdown_table, "| Model | GPU |")
    error_message = "The markdown table needs a header, a separator and 60 rows."
  }
  assert {
    condition     = alltrue([for r in output.matrix : r.price_per_gpu_hour_usd == null && r.price_source == null if r.gpu == "RTX-4090"])
    error_message = "The RTX 4090 has no EC2 instance and no price in the map, so it must have no price."
  }
  assert {
    # A bare GPU without a map entry takes its cheapest EC2 price per GPU-hour.
    condition = alltrue([for r in output.matrix :
      r.price_per_gpu_hour_usd == min([for it in data.rayvllm_gpus.catalog.instance_types : it.price_per_gpu_hour_usd if it.gpu == "A100-80GB"]...) && startswith(r.price_source, "ec2:")
    if r.gpu == "A100-80GB"])
    error_message = "A100-80GB rows must carry the cheapest EC2 price per GPU-hour of an A100-80GB instance."
  }
  assert {
    condition     = alltrue([for m in var.models : output.cheapest[m] != null])
    error_message = "Every model fits some priced GPU of the matrix."
  }
  assert {
    condition = alltrue([for m in var.models :
      contains(output.matrix, output.cheapest[m]) && output.cheapest[m].fits && output.cheapest[m].model == m &&
      alltrue([for r in output.matrix : output.cheapest[m].price_per_gpu_hour_usd <= r.price_per_gpu_hour_usd if r.model == m && r.fits && r.price_per_gpu_hour_usd != null])
    ])
    error_message = "The cheapest option per model must be a fitting row of that model, priced no higher than any other fitting row."
  }
}

run "instance_types_set_gpu_and_price" {
  command = plan

  variables {
    models                  = ["Qwen/Qwen2.5-7B-Instruct"]
    gpus                    = []
    instance_types          = ["g5.xlarge", "g6e.xlarge", "p5.4xlarge"]
    quantizations           = ["fp16", "int4"]
    gpu_prices_per_hour_usd = {}
  }

  assert {
    condition     = length(output.matrix) == 6 && alltrue([for r in output.matrix : r.instance_type == r.hardware && r.price_source == "ec2:${r.instance_type}"])
    error_message = "Instance-type rows must name the instance type and take its own price."
  }
  assert {
    condition     = jsonencode(distinct([for r in output.matrix : r.gpu])) == jsonencode(["A10G", "L40S", "H100-80GB-SXM"])
    error_message = "g5 has A10Gs, g6e L40Ss, p5 H100s; got ${jsonencode(distinct([for r in output.matrix : r.gpu]))}."
  }
  assert {
    condition     = alltrue([for r in output.matrix : r.price_per_gpu_hour_usd == one([for it in data.rayvllm_gpus.catalog.instance_types : it.price_per_gpu_hour_usd if it.instance_type == r.instance_type])])
    error_message = "Prices must be the catalog's per-GPU-hour prices."
  }
  assert {
    # Same price for fp16 and int4 on one instance: the tie goes to the larger KV cache.
    condition     = output.cheapest["Qwen/Qwen2.5-7B-Instruct"].instance_type == "g5.xlarge" && output.cheapest["Qwen/Qwen2.5-7B-Instruct"].quantization == "int4"
    error_message = "Expected g5.xlarge with int4 (cheapest instance; int4 leaves the most KV cache), got ${jsonencode(output.cheapest)}."
  }
}

run "min_concurrency_excludes_tight_fits" {
  command = plan

  variables {
    models        = ["meta-llama/Llama-2-13b-hf"]
    gpus          = ["RTX-3090", "L40S"]
    quantizations = ["int4"]
    # 40 layers × 5120 × 2 (K, V) × 2 bytes = 0.78 MiB per token, 3.1 GiB per
    # 4096-token sequence: 8 of them cannot fit a 24 GB card.
    min_concurrency = 8
  }

  assert {
    condition     = one([for r in output.matrix : r if r.gpu == "RTX-3090"]).fits && one([for r in output.matrix : r if r.gpu == "RTX-3090"]).max_concurrency < 8
    error_message = "Llama-2-13B int4 should fit an RTX 3090, with fewer than 8 full-length sequences."
  }
  assert {
    condition     = output.cheapest["meta-llama/Llama-2-13b-hf"].gpu == "L40S" && output.cheapest["meta-llama/Llama-2-13b-hf"].max_concurrency >= 8
    error_message = "With min_concurrency = 8 the cheaper RTX 3090 must be passed over for the L40S."
  }
}

run "gpu_alias_priced_by_catalog_name" {
  command = plan

  variables {
    models                  = ["Qwen/Qwen2.5-0.5B-Instruct"]
    gpus                    = ["h100"]
    quantizations           = ["none"]
    gpu_prices_per_hour_usd = { "H100-80GB-SXM" = 2 }
  }

  assert {
    condition     = output.matrix[0].gpu == "H100-80GB-SXM" && output.matrix[0].hardware == "h100" && output.matrix[0].price_per_gpu_hour_usd == 2 && output.matrix[0].price_source == "gpu_prices_per_hour_usd"
    error_message = "An alias must resolve to the catalog GPU and take the price keyed by its catalog name: ${jsonencode(output.matrix[0])}."
  }
}

run "no_price_no_cheapest" {
  command = plan

  variables {
    models                  = ["Qwen/Qwen2.5-0.5B-Instruct"]
    gpus                    = ["RTX-4090"]
    quantizations           = ["fp16"]
    gpu_prices_per_hour_usd = {}
  }

  assert {
    condition     = output.matrix[0].fits && output.cheapest["Qwen/Qwen2.5-0.5B-Instruct"] == null
    error_message = "A fitting option without a price cannot be the cheapest."
  }
}

run "rejects_no_hardware" {
  command = plan

  variables {
    gpus           = []
    instance_types = []
  }

  expect_failures = [output.matrix]
}

run "rejects_unknown_quantization" {
  command = plan

  variables {
    quantizations = ["int3"]
  }

  expect_failures = [var.quantizations]
}

run "rejects_malformed_instance_type" {
  command = plan

  variables {
    instance_types = ["G5 XLarge"]
  }

  expect_failures = [var.instance_types]
}

run "rejects_gpu_memory_utilization_above_one" {
  command = plan

  variables {
    gpu_memory_utilization = 1.2
  }

  expect_failures = [var.gpu_memory_utilization]
}
