# Import an existing Ray job by <dashboard_url>#<submission_id>. A built-in
# job's vllm block is read back from its entrypoint, a custom job's
# entrypoint, metadata and runtime_env from Ray.
terraform import rayvllm_batch_job.summaries 'http://127.0.0.1:8265#rayvllm-3f2a9c1d0b4e-7a1c2e9f'
