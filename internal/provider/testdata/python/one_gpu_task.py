import json
import ray
ray.init()

@ray.remote(num_gpus=1, num_cpus=1)
def where():
    return ray.util.get_node_ip_address()

print("RESULT " + json.dumps(ray.get(where.remote(), timeout=900)))
