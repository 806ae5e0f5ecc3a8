"""Ray's AWS node provider with fallbacks: instance types, reservation, spot.

rayvllm's head runs Ray's own autoscaler (v2) with this node provider
(provider.type "external", module rayvllm_autoscaler.RayvllmAWSNodeProvider).
It is Ray's AWSNodeProvider (ray/autoscaler/_private/aws/node_provider.py)
unchanged, except that a launch EC2 refuses for capacity is made the next
way, in order (attempts()): each instance type (the node_config's, then
FALLBACK_TYPES_KEY's) as configured; then, for a node type listed in
provider.rayvllm_spot_fallback, each type on demand; and, for a node type
whose capacity reservation falls back (RESERVATION_FALLBACK_KEY), each type
on demand without the reservation. Ray 2.60's autoscaler v2 lowers a node type's
availability only when a launched instance times out (ALLOCATION_TIMEOUT in
ray/autoscaler/v2/instance_manager/subscribers/cloud_resource_monitor.py),
not when RunInstances refuses it (ALLOCATION_FAILED), so a spot type that EC2
refuses would otherwise be retried for ever and the work would never run
(and autoscaler v2 has no per-node-type list of instance types).

The instances it launches on demand carry the tag rayvllm:market =
on-demand-fallback. Spot refused by IAM (SPOT_AUTH_ERRORS) falls back too.

A node type's user data is in its node_config as the uncompressed script
(USER_DATA_KEY). create_node puts in the head's IP and gzips it when over
EC2's limit. Nothing else differs: the nodes boot from their own user
data and join by themselves (provider.disable_node_updaters).
"""

import copy
import gzip
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

# EC2 error codes of a spot request that IAM refused: the head's role lacks
# spot-instances-request, or the account has no spot service-linked role
# (AWSServiceRoleForEC2Spot) and the head may not create it. On demand may
# still be allowed, so these fall back too, with the fix in the log.
SPOT_AUTH_ERRORS = frozenset({"UnauthorizedOperation", "AuthFailure.ServiceLinkedRoleCreationNotPermitted"})

# EC2 error codes after which another instance type, or the launch without
# the reservation, may succeed (ec2cluster.CapacityErrors).
CAPACITY_ERRORS = frozenset(
    {
        "InsufficientInstanceCapacity",
        "InsufficientCapacity",
        "Unsupported",
        "InsufficientFreeAddressesInSubnet",
        "InsufficientHostCapacity",
        "UnfulfillableCapacity",
        "ReservationCapacityExceeded",
        "InsufficientReservedInstanceCapacity",
    }
)

MARKET_TAG = "rayvllm:market"
# ec2cluster.FallbackTypesKey and ec2cluster.ReservationFallbackKey.
FALLBACK_TYPES_KEY = "rayvllm_fallback_instance_types"
RESERVATION_FALLBACK_KEY = "rayvllm_reservation_fallback_to_on_demand"

# ec2cluster.UserDataKey and ec2cluster.HeadIPPlaceholder.
USER_DATA_KEY = "rayvllm_user_data"
HEAD_IP_PLACEHOLDER = b"__RAYVLLM_HEAD_IP__"
MAX_USER_DATA_BYTES = 16 * 1024


def with_user_data(node_config, head_ip):
    """node_config with UserData as bytes from USER_DATA_KEY (the worker's
    script), the head's IP put in, gzip when over EC2's limit (as
    RenderUserData). boto3 base64-encodes bytes UserData for RunInstances."""
    if USER_DATA_KEY not in node_config:
        return node_config
    conf = dict(node_config)
    data = conf.pop(USER_DATA_KEY).encode()
    data = data.replace(HEAD_IP_PLACEHOLDER, head_ip.encode())
    if len(data) > MAX_USER_DATA_BYTES:
        data = gzip.compress(data, compresslevel=9, mtime=0)
    conf["UserData"] = data
    return conf


def attempts(node_config, spot_fallback):
    """The launches to try in order: (node_config, extra tags, refusals that
    move on to the next). node_config has no rayvllm keys left."""
    conf = dict(node_config)
    types = [conf["InstanceType"]] + list(conf.pop(FALLBACK_TYPES_KEY, []))
    reservation_fallback = conf.pop(RESERVATION_FALLBACK_KEY, False)
    spot = conf.get("InstanceMarketOptions", {}).get("MarketType") == "spot"
    ways = [(conf, {}, CAPACITY_ERRORS | (SPOT_CAPACITY_ERRORS | SPOT_AUTH_ERRORS if spot and spot_fallback else set()))]
    if spot and spot_fallback:
        on_demand = copy.deepcopy(conf)
        on_demand.pop("InstanceMarketOptions")
        ways.append((on_demand, {MARKET_TAG: "on-demand-fallback"}, CAPACITY_ERRORS))
    if reservation_fallback:
        on_demand = copy.deepcopy(conf)
        on_demand.pop("InstanceMarketOptions", None)
        on_demand.pop("CapacityReservationSpecification")
        ways.append((on_demand, {MARKET_TAG: "on-demand-fallback"}, CAPACITY_ERRORS))
    out = []
    for way, extra, refusals in ways:
        for t in types:
            out.append((dict(way, InstanceType=t), extra, refusals))
    return out


class RayvllmAWSNodeProvider(AWSNodeProvider):
    def create_node(self, node_config, tags, count):
        fallback = tags.get(TAG_RAY_USER_NODE_TYPE) in set(self.provider_config.get("rayvllm_spot_fallback", []))
        node_config = with_user_data(node_config, self.provider_config.get("rayvllm_head_ip", ""))
        ways = attempts(node_config, fallback)
        for k, (conf, extra, refusals) in enumerate(ways):
            try:
                return super().create_node(conf, dict(tags, **extra), count)
            except NodeLaunchException as e:
                if k == len(ways) - 1 or e.category not in refusals:
                    raise
                nxt = ways[k + 1][0]
                logger.warning(
                    "rayvllm: launch of %d x %s (%s%s) refused (%s); trying %s%s%s",
                    count,
                    tags.get(TAG_RAY_USER_NODE_TYPE),
                    conf["InstanceType"],
                    _market(conf),
                    e.category,
                    nxt["InstanceType"],
                    _market(nxt),
                    (
                        ": grant ec2:RunInstances on spot-instances-request/* and create the spot service-linked role"
                        " (aws iam create-service-linked-role --aws-service-name spot.amazonaws.com)"
                        if e.category in SPOT_AUTH_ERRORS
                        else ""
                    ),
                )


def _market(conf):
    if "CapacityReservationSpecification" in conf:
        return ", reserved"
    return ", " + conf.get("InstanceMarketOptions", {}).get("MarketType", "on-demand")
