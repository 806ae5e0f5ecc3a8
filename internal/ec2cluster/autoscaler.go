package ec2cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Worker groups with Autoscale set are launched by Ray's own autoscaler on
// the head, not by the provider. The provider renders the autoscaler's
// cluster config (Ray's cluster YAML schema, ray/autoscaler/ray-schema.json,
// written as JSON) from the groups; the head's user data carries it and the
// head starts Ray with --autoscaling-config (autoscaler v2). The node provider
// is Ray's AWS node provider (ray/autoscaler/_private/aws/node_provider.py),
// extended by scripts/rayvllm_autoscaler.py (shipped in the head's user data)
// only with an on-demand fallback for spot node types, and two of its
// supported provider settings:
//   - disable_node_updaters: true: the autoscaler never SSHes into a node
//     to install or start Ray (ray/autoscaler/_private/autoscaler.py,
//     DISABLE_NODE_UPDATERS_KEY; v2: instance_manager/reconciler.py skips
//     _install_ray). KubeRay runs the autoscaler this way. Our nodes boot
//     from the same user data as the provider's workers and join by
//     themselves;
//   - cache_stopped_nodes: false: idle nodes are terminated, not stopped
//     (a stopped GPU node still bills its EBS volume and would come back
//     with the old boot).

// Ray's node tags (ray/autoscaler/tags.py). The AWS node provider lists the
// instances whose ray-cluster-name is the cluster's.
const (
	RayTagClusterName  = "ray-cluster-name"
	RayTagNodeKind     = "ray-node-type" // Ray's TAG_RAY_NODE_KIND
	RayTagUserNodeType = "ray-user-node-type"
	RayTagNodeStatus   = "ray-node-status"
	RayTagNodeName     = "ray-node-name"

	// HeadNodeType is the head's node type in the autoscaler config.
	HeadNodeType = "rayvllm.head"
	// AutoscalerModule is the node provider class the autoscaler loads
	// (scripts/rayvllm_autoscaler.py, on the head's PYTHONPATH).
	AutoscalerModule = "rayvllm_autoscaler.RayvllmAWSNodeProvider"
	// TagMarket marks the instances the autoscaler launched on demand after
	// EC2 refused spot capacity (rayvllm_autoscaler.MARKET_TAG).
	TagMarket = "rayvllm:market"
	// HeadIPPlaceholder stands for the head's private IP in the workers'
	// user data inside the autoscaler config: the config is rendered before
	// the head exists, and the head's boot script puts its own IP in.
	HeadIPPlaceholder = "__RAYVLLM_HEAD_IP__"
	// UserDataKey carries a node type's user data in its node_config as
	// the uncompressed script: the head's user data holds every autoscaled
	// group's, and gzip folds their common scripts only as text (base64
	// hides the repeats: 3 groups came to 25 KiB gzip-compressed, over
	// EC2's 16 KiB). The node provider puts the head's IP
	// (provider.rayvllm_head_ip) in for HeadIPPlaceholder, gzips it when
	// over MaxUserDataBytes, as RenderUserData does, and passes the bytes
	// to RunInstances as UserData.
	UserDataKey = "rayvllm_user_data"
	// FallbackTypesKey lists a node type's fallback instance types in its
	// node_config, and ReservationFallbackKey marks a node type whose
	// reservation falls back to on demand; the node provider pops both
	// before RunInstances (rayvllm_autoscaler.FALLBACK_TYPES_KEY and
	// RESERVATION_FALLBACK_KEY).
	FallbackTypesKey       = "rayvllm_fallback_instance_types"
	ReservationFallbackKey = "rayvllm_reservation_fallback_to_on_demand"
	// DefaultIdleTimeoutMinutes is Ray's default idle_timeout_minutes.
	DefaultIdleTimeoutMinutes = 5
)

// Autoscale makes a group elastic: Ray's autoscaler keeps between Min and
// Max workers, launching for pending demand and terminating nodes idle for
// the cluster's idle timeout.
type Autoscale struct {
	Min, Max int
	// SpotFallback makes a spot group launch on demand when EC2 refuses the
	// spot launch for capacity or price (only for spot groups).
	SpotFallback bool
}

// Autoscaled reports whether any group is scaled by Ray's autoscaler.
func (s Spec) Autoscaled() bool {
	for _, g := range s.Groups {
		if g.Autoscale != nil {
			return true
		}
	}
	return false
}

// headRayTags are the head's tags for Ray's node provider, so that the
// autoscaler lists the head as its cluster's head node.
func (s Spec) headRayTags() map[string]string {
	return map[string]string{
		RayTagClusterName: s.Name, RayTagNodeKind: "head", RayTagUserNodeType: HeadNodeType,
		RayTagNodeStatus: "up-to-date", RayTagNodeName: "ray-" + s.Name + "-head",
	}
}

// IsAutoscalerInstance reports whether Ray's autoscaler of the cluster
// launched the instance (Ray's node provider tags every node it creates
// with the cluster name and node kind "worker").
func IsAutoscalerInstance(cluster string, i Instance) bool {
	return i.Tags[RayTagClusterName] == cluster && i.Tags[RayTagNodeKind] == "worker"
}

// RenderAutoscalerConfig returns Ray's cluster config for the autoscaled
// groups of spec, as one line of JSON (which YAML loaders read): the head
// type with no resources for tasks, and per group one node type with the
// resources and labels the worker declares, min/max workers, and the AWS
// node_config:
// AMI, instance type, subnet, security group, instance profile, key, IMDSv2,
// encrypted root volume, tags, spot market options and the worker's user
// data (UserDataKey, with HeadIPPlaceholder for the head's IP). The provider section
// lists the spot groups with the on-demand fallback. roots maps each AMI to
// its root device name.
func RenderAutoscalerConfig(spec Spec, sgID string, roots map[string]string) ([]byte, error) {
	types := map[string]any{
		HeadNodeType: map[string]any{
			"node_config": map[string]any{},
			"resources":   map[string]int{"CPU": 0, "GPU": 0},
			"max_workers": 0,
		},
	}
	idle := spec.IdleTimeoutMinutes
	if idle <= 0 {
		idle = DefaultIdleTimeoutMinutes
	}
	total := 0
	fallback := []string{}
	for _, g := range spec.Groups {
		if a := g.Autoscale; a != nil {
			if a.Min < 0 || a.Max < a.Min {
				return nil, fmt.Errorf("worker group %s: min_workers %d and max_workers %d must satisfy 0 <= min <= max", g.Name, a.Min, a.Max)
			}
			if a.SpotFallback && g.Spot {
				fallback = append(fallback, g.Name)
			}
			if g.CPUs <= 0 || g.GPUs <= 0 {
				return nil, fmt.Errorf("worker group %s: %s needs its vCPU and GPU counts (got %d and %d)", g.Name, g.InstanceType, g.CPUs, g.GPUs)
			}
			nc, err := nodeConfig(spec, g, sgID, roots[g.AMI])
			if err != nil {
				return nil, err
			}
			res := map[string]int{"CPU": g.CPUs, "GPU": g.GPUs}
			labels := map[string]string{"rayvllm.io/group": g.Name}
			if g.AcceleratorType != "" {
				res["accelerator_type:"+g.AcceleratorType] = 1
				labels["rayvllm.io/accelerator-type"] = g.AcceleratorType
			}
			types[g.Name] = map[string]any{
				"min_workers": a.Min, "max_workers": a.Max, "resources": res, "labels": labels, "node_config": nc,
			}
			total += a.Max
		}
	}
	if total == 0 && !spec.Autoscaled() {
		return nil, fmt.Errorf("cluster %s has no autoscaled worker group", spec.Name)
	}
	cfg := map[string]any{
		"cluster_name":         spec.Name,
		"max_workers":          total,
		"upscaling_speed":      1.0,
		"idle_timeout_minutes": idle,
		"provider": map[string]any{
			"type":                  "external",
			"module":                AutoscalerModule,
			"rayvllm_spot_fallback": fallback,
			"rayvllm_head_ip":       HeadIPPlaceholder,
			"region":                spec.Boot.Region,
			"cache_stopped_nodes":   false,
			"disable_node_updaters": true,
			"use_internal_ips":      true,
		},
		"head_node_type":       HeadNodeType,
		"available_node_types": types,
		// An external node provider gets no defaults (providers.py,
		// MINIMAL_EXTERNAL_CONFIG): the fields prepare_config reads. No
		// command runs on a node (disable_node_updaters).
		"auth": map[string]any{}, "file_mounts": map[string]any{}, "cluster_synced_files": []string{},
		"file_mounts_sync_continuously": false, "rsync_exclude": []string{}, "rsync_filter": []string{},
		"initialization_commands": []string{}, "setup_commands": []string{}, "head_setup_commands": []string{},
		"worker_setup_commands": []string{}, "head_start_ray_commands": []string{}, "worker_start_ray_commands": []string{},
	}
	// Without HTML escaping: the scripts' "&&" and ">" stay as they are.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(cfg); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func nodeConfig(spec Spec, g GroupSpec, sgID, rootDevice string) (map[string]any, error) {
	b := spec.Boot
	b.HeadIP, b.Group, b.AcceleratorType, b.NodeType, b.NumCPUs = HeadIPPlaceholder, g.Name, g.AcceleratorType, g.Name, g.CPUs
	b.AutoscalerConfig = ""
	// The node provider puts the head's IP in at launch: render with the
	// longest IP once so that EC2's limit holds for any address.
	longest := b
	longest.HeadIP = "255.255.255.255"
	if _, err := RenderUserData(RoleWorker, longest); err != nil {
		return nil, fmt.Errorf("worker group %s: %w", g.Name, err)
	}
	ud, err := RenderUserData(RoleWorker, b)
	if err != nil {
		return nil, err
	}
	if rootDevice == "" {
		rootDevice = "/dev/xvda"
	}
	tags := spec.tags(RoleWorker, g.Name, g.Name)
	nc := map[string]any{
		"ImageId":          g.AMI,
		"InstanceType":     g.InstanceType,
		"SubnetIds":        spec.subnets(),
		"SecurityGroupIds": []string{sgID},
		UserDataKey:        DecompressUserData(ud),
		"MetadataOptions":  map[string]string{"HttpTokens": "required", "HttpEndpoint": "enabled"},
		"BlockDeviceMappings": []any{map[string]any{
			"DeviceName": rootDevice,
			"Ebs": map[string]any{
				"VolumeSize": g.RootVolumeGiB, "VolumeType": g.RootVolumeType, "Encrypted": true, "DeleteOnTermination": true,
			},
		}},
		"TagSpecifications": []any{
			map[string]any{"ResourceType": "instance", "Tags": tagList(tags)},
			map[string]any{"ResourceType": "volume", "Tags": tagList(tags)},
		},
	}
	if spec.KeyName != "" {
		nc["KeyName"] = spec.KeyName
	}
	if p := spec.IAMInstanceProfile; p != "" {
		if strings.HasPrefix(p, "arn:") {
			nc["IamInstanceProfile"] = map[string]string{"Arn": p}
		} else {
			nc["IamInstanceProfile"] = map[string]string{"Name": p}
		}
	}
	if g.Spot {
		opts := map[string]string{"SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"}
		if g.SpotMaxPrice != "" {
			opts["MaxPrice"] = g.SpotMaxPrice
		}
		nc["InstanceMarketOptions"] = map[string]any{"MarketType": "spot", "SpotOptions": opts}
	}
	capacityNodeConfig(nc, g.NodeSpec, spec.subnets(), sgID)
	return nc, nil
}

func tagList(m map[string]string) []map[string]string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]map[string]string, 0, len(m))
	for _, k := range keys {
		out = append(out, map[string]string{"Key": k, "Value": m[k]})
	}
	return out
}
