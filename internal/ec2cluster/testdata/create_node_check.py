"""Runs RayvllmAWSNodeProvider.create_node on a node_config (argv[1]) with
Ray's AWSNodeProvider.create_node replaced by a stand-in that refuses the
launches listed in argv[2] (JSON: "<InstanceType>/<market>" -> EC2 error
code) and records every launch it is asked for. Prints the launches as JSON,
and the error code when every launch was refused."""

import json
import sys

from ray.autoscaler._private.aws.node_provider import AWSNodeProvider
from ray.autoscaler.node_launch_exception import NodeLaunchException

import rayvllm_autoscaler

node_config = json.load(open(sys.argv[1]))
refuse = json.loads(sys.argv[2])
spot_fallback = json.loads(sys.argv[3])
launches = []


def market(conf):
    if "CapacityReservationSpecification" in conf:
        return "reserved"
    return conf.get("InstanceMarketOptions", {}).get("MarketType", "on-demand")


def fake_create_node(self, conf, tags, count):
    key = conf["InstanceType"] + "/" + market(conf)
    launches.append({"launch": key, "market_tag": tags.get(rayvllm_autoscaler.MARKET_TAG, ""), "keys": sorted(conf)})
    if key in refuse:
        raise NodeLaunchException(refuse[key], "refused by the test", src_exc_info=None)
    return {"i-1": None}


AWSNodeProvider.create_node = fake_create_node
p = rayvllm_autoscaler.RayvllmAWSNodeProvider.__new__(rayvllm_autoscaler.RayvllmAWSNodeProvider)
p.provider_config = {"rayvllm_spot_fallback": ["g"] if spot_fallback else [], "rayvllm_head_ip": "10.0.0.9"}
error = ""
try:
    p.create_node(node_config, {"ray-user-node-type": "g"}, 1)
except NodeLaunchException as e:
    error = e.category
print(json.dumps({"launches": launches, "error": error}))
