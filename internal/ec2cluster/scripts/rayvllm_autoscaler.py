"""Ray's AWS node provider with an on-demand fallback for spot node types.

rayvllm's head runs Ray's own autoscaler (v2) with this node provider
(provider.type "external", module rayvllm_autoscaler.RayvllmAWSNodeProvider).
It is Ray's AWSNodeProvider (ray/autoscaler/_private/aws/node_provider.py)
unchanged, except for one thing: when a spot launch of a node type listed in
provider.rayvllm_spot_fallback fails for lack of spot capacity, the same
launch is made on demand. Ray 2.60's autoscaler v2 lowers a node type's
availability only when a launched instance times out (ALLOCATION_TIMEOUT in
ray/autoscaler/v2/instance_manager/subscribers/cloud_resource_monitor.py),
not when RunInstances refuses it (ALLOCATION_FAILED), so a spot type that EC2
refuses would otherwise be retried for ever and the work would never run.

The instances it launches on demand carry the tag rayvllm:market =
on-demand-fallback. Nothing else differs: the nodes boot from their own user
data and join by themselves (provider.disable_node_updaters).
"""

import copy
import logging

from ray.autoscaler._private.aws.node_provider import AWSNodeProvider
from ray.autoscaler.node_launch_exception import NodeLaunchException
from ray.autoscaler.tags import TAG_RAY_USER_NODE_TYPE

logger = logging.getLogger(__name__)

# EC2 error codes of a spot request that capacity or price cannot serve.
SPOT_CAPACITY_ERRORS = frozenset(
    {
        "InsufficientInstanceCapacity",
        "InsufficientCapacity",
        "SpotMaxPriceTooLow",
        "MaxSpotInstanceCountExceeded",
        "UnfulfillableCapacity",
    }
)

MARKET_TAG = "rayvllm:market"


class RayvllmAWSNodeProvider(AWSNodeProvider):
    def create_node(self, node_config, tags, count):
        fallback = set(self.provider_config.get("rayvllm_spot_fallback", []))
        spot = "InstanceMarketOptions" in node_config
        try:
            return super().create_node(node_config, tags, count)
        except NodeLaunchException as e:
            if not spot or tags.get(TAG_RAY_USER_NODE_TYPE) not in fallback or e.category not in SPOT_CAPACITY_ERRORS:
                raise
            logger.warning(
                "rayvllm: spot launch of %d x %s refused (%s); launching on demand instead",
                count,
                tags.get(TAG_RAY_USER_NODE_TYPE),
                e.category,
            )
        on_demand = copy.deepcopy(node_config)
        on_demand.pop("InstanceMarketOptions")
        return super().create_node(on_demand, dict(tags, **{MARKET_TAG: "on-demand-fallback"}), count)
