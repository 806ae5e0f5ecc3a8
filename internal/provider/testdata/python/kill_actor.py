# SIGKILLs the process of every alive actor of the test Ray head whose
# class or repr names sys.argv[1] (Ray's state API, so only this test's
# cluster); prints the pids, or the alive actors when none matched.
import json, os, signal, sys
from ray.util.state import list_actors

alive = list_actors(address=os.environ["RAY_ADDRESS"], filters=[("state", "=", "ALIVE")], detail=True, limit=1000)
hits = [a for a in alive if sys.argv[1] in f"{a.class_name} {a.repr_name} {a.name}"]
if not hits:
    sys.exit("no alive actor names %s: %s" % (sys.argv[1], json.dumps([f"{a.class_name} {a.repr_name}" for a in alive])))
for a in hits:
    os.kill(a.pid, signal.SIGKILL)
print(json.dumps([a.pid for a in hits]))
