import os, sys, time
time.sleep(1)
for i in range(10):
    print("line", i)
with open(sys.argv[1], "w") as f:
    f.write("hello " + os.environ["GREETING"])
print('rayvllm-metrics: {"rows": 3, "failed_rows": 2, "skipped_rows": 1, "input_tokens": 30, "output_tokens": 60, "wall_seconds": 2.0, "output_tokens_per_second": 30.0, "total_tokens_per_second": 45.0, "engine_seconds": 1.5, "engine_output_tokens_per_second": 40.0}')
print("done")
