import os, sys, time, ray
# want > 0: wait until that many test worker nodes are alive; want = 0: until
# none is (the GCS marks a killed node dead only after missed health checks).
want = int(sys.argv[1]) if len(sys.argv) > 1 else 2
ray.init(address=os.environ["RAYVLLM_TEST_GCS_ADDRESS"], logging_level="ERROR", log_to_driver=False)
for _ in range(180):
    alive = sum(1 for n in ray.nodes() if n["Alive"] and n["Resources"].get("rayvllm_test_worker"))
    if (alive >= want > 0) or alive == want == 0:
        sys.exit(0)
    time.sleep(1)
sys.exit(f"{want} node(s) with rayvllm_test_worker did not join" if want else f"{alive} killed test node(s) still alive")
