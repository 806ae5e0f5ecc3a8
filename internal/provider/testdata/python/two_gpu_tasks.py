import json, time
import ray
ray.init()


# Each task waits until both are running: a task that finished before the
# second worker joined would let the second task run on the same node.
@ray.remote(num_cpus=0)
class Barrier:
    def __init__(self):
        self.n = 0

    def arrive(self):
        self.n += 1

    def count(self):
        return self.n


@ray.remote(num_gpus=1, num_cpus=1)
def where(barrier):
    ray.get(barrier.arrive.remote())
    deadline = time.time() + 800
    while ray.get(barrier.count.remote()) < 2:
        if time.time() > deadline:
            raise RuntimeError("the second GPU task never started beside this one")
        time.sleep(1)
    time.sleep(5)  # the task's work (make bench-autoscale replaces it with longer)
    return ray.util.get_node_ip_address()


b = Barrier.remote()
print("RESULT " + json.dumps(ray.get([where.remote(b), where.remote(b)], timeout=900)))
