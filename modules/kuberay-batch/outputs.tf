output "cluster_id" {
  description = "The RayCluster, `<namespace>/<name>`."
  value       = rayvllm_kuberay_cluster.this.id
}

output "dashboard_url" {
  description = "The cluster's `kuberay://` dashboard URL, for other Ray resources."
  value       = rayvllm_kuberay_cluster.this.dashboard_url
}

output "worker_count" {
  description = "GPU pods: ceil(concurrency × tensor_parallel_size / gpus_per_node)."
  value       = local.worker_count
}

output "total_gpus" {
  description = "GPUs the cluster holds."
  value       = rayvllm_kuberay_cluster.this.total_gpus
}

output "hours_to_complete" {
  description = "Predicted wall time of the batch in hours (`rayvllm_batch_sizing`); null when the model does not fit."
  value       = try(local.sizing.hours_to_complete, null)
}

output "cost_usd" {
  description = "Predicted GPU cost of the batch in USD at `price_per_gpu_hour_usd`; null without a price."
  value       = try(local.sizing.cost_usd, null)
}

output "checks" {
  description = "The plan-time checks: null when one passes, else what to change."
  value       = local.checks
}

output "job_status" {
  description = "The batch job's final Ray status."
  value       = rayvllm_batch_job.this.status
}
