# The reference report's Phase 5 matrix (3 models × 5 GPUs × 4 quantizations
# = 60 configurations), checked at plan time with vLLM's memory accounting.
# It runs the fit-matrix module's own example:
#
#   terraform init && terraform apply && terraform output -raw markdown_table

module "phase5" {
  source = "../../modules/fit-matrix/examples/phase5"
}

output "summary" {
  description = "How many of the 60 configurations fit."
  value       = module.phase5.summary
}

output "markdown_table" {
  description = "The matrix as a markdown table."
  value       = module.phase5.markdown_table
}

output "cheapest" {
  description = "Cheapest fitting GPU per model."
  value       = module.phase5.cheapest
}
