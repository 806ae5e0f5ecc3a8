# Import takes <namespace>/<RayCluster name>.
terraform import rayvllm_kuberay_cluster.this ml/batch-llm
