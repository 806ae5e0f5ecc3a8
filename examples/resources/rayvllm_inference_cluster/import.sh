# Import takes the cluster name (the rayvllm:cluster tag of its instances).
terraform import rayvllm_inference_cluster.this batch-llm
