# <dashboard URL>#<Serve application name>
terraform import rayvllm_vllm_worker.qwen 'http://10.0.0.5:8265#qwen-7b'
