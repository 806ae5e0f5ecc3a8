import os, sys, time, ray
want = int(sys.argv[1]) if len(sys.argv) > 1 else 2
ray.init(address=os.environ["RAYVLLM_TEST_GCS_ADDRESS"], logging_level="ERROR", log_to_driver=False)
for _ in range(120):
    if sum(1 for n in ray.nodes() if n["Alive"] and n["Resources"].get("rayvllm_test_worker")) >= want:
        sys.exit(0)
    time.sleep(1)
sys.exit(f"{want} node(s) with rayvllm_test_worker did not join")
