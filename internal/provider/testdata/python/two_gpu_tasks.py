import json, time
import ray
ray.init()

@ray.remote(num_gpus=1, num_cpus=1)
def where():
    time.sleep(5)
    return ray.util.get_node_ip_address()

print("RESULT " + json.dumps(ray.get([where.remote(), where.remote()], timeout=900)))
