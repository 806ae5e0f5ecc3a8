package ec2cluster

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/smithy-go"
)

// Tags the resource puts on everything it creates, and the Ray ports.
const (
	TagCluster = "rayvllm:cluster"
	TagRole    = "rayvllm:role"
	TagGroup   = "rayvllm:group"
	RoleHead   = "head"
	RoleWorker = "worker"

	DashboardPort = 8265
	GCSPort       = 6379
	ServePort     = 8000
	ClientPort    = 10001
)

// RayPorts are the ports that must never be open to the internet: the
// ShadowRay attacks (CVE-2023-48022) ran code through an exposed dashboard
// and Jobs API.
var RayPorts = []int{DashboardPort, GCSPort, ServePort, ClientPort}

// NodeSpec is how one kind of node is launched.
type NodeSpec struct {
	InstanceType   string
	AMI            string
	RootVolumeGiB  int32
	RootVolumeType string
	Spot           bool
	SpotMaxPrice   string // USD per hour; "" = the on-demand price cap
	// FallbackInstanceTypes are tried in order after InstanceType when EC2
	// refuses it for capacity in every subnet (CapacityErrors).
	FallbackInstanceTypes []string
	Reservation           *Reservation
	PlacementGroup        string // an existing placement group's name
	// EFA launches with an Elastic Fabric Adapter as the primary network
	// interface (InterfaceType "efa").
	EFA bool
}

// GroupSpec is a worker group.
type GroupSpec struct {
	Name string
	NodeSpec
	Count           int
	AcceleratorType string // Ray's accelerator_type for the group's GPU
	// Autoscale, when set, hands the group to Ray's autoscaler (Count is
	// ignored); CPUs and GPUs per node are then the node type's resources.
	Autoscale  *Autoscale
	CPUs, GPUs int
}

// Spec is the desired cluster.
type Spec struct {
	Name     string
	SubnetID string
	// SubnetIDs are further subnets of the same VPC, in other availability
	// zones, tried in order when EC2 refuses a launch in the previous one for
	// capacity (AZCapacityErrors); Ray's autoscaler gets them all.
	SubnetIDs          []string
	KeyName            string
	IAMInstanceProfile string // name or ARN
	// HeadIAMInstanceProfile is the head's profile (name or ARN); "" = the
	// nodes' IAMInstanceProfile, or, for an autoscaled cluster, a role and
	// profile that Create makes (EnsureHeadRole).
	HeadIAMInstanceProfile string
	Tags                   map[string]string
	Head                   NodeSpec
	Groups                 []GroupSpec
	Boot                   BootConfig
	DashboardCIDRs         []string
	// TokenWriteOnly marks the token as the user's write-only one
	// (TagTokenSource), which import leaves out of state.
	TokenWriteOnly bool
	// IdleTimeoutMinutes is how long an autoscaled worker may be idle before
	// Ray's autoscaler terminates it (0 = DefaultIdleTimeoutMinutes).
	IdleTimeoutMinutes int
}

// Instance is what EC2 reports about one node.
type Instance struct {
	ID           string
	Role         string
	Group        string
	InstanceType string
	AMI          string
	State        string
	PrivateIP    string
	PublicIP     string
	Spot         bool
	LaunchTime   time.Time
	SubnetID     string
	KeyName      string
	ProfileARN   string
	RootVolumeID string
	Tags         map[string]string
}

// Live reports whether the instance counts toward its group.
func (i Instance) Live() bool { return i.State == "pending" || i.State == "running" }

// Cluster is what exists: the head, the live workers by group, and every
// other instance that carries the cluster tag (stopped ones, strays).
type Cluster struct {
	Name   string
	Head   *Instance
	Groups map[string][]Instance
	// Autoscaled are the live workers Ray's autoscaler launched: not
	// Terraform's to count, and not drift.
	Autoscaled      []Instance
	NotLive         []Instance
	SecurityGroupID string
	TokenParameter  string
	// HeadRoleARN and HeadProfileARN are set when Create made the head's
	// role and instance profile.
	HeadRoleARN, HeadProfileARN string
}

// InstanceIDs returns the head's and every live worker's ID.
func (c *Cluster) InstanceIDs() []string {
	var ids []string
	if c.Head != nil {
		ids = append(ids, c.Head.ID)
	}
	for _, g := range c.sortedGroupNames() {
		ids = append(ids, c.GroupIDs(g)...)
	}
	return ids
}

// GroupIDs returns the IDs of a group's live workers, oldest first.
func (c *Cluster) GroupIDs(group string) []string {
	ws := slices.Clone(c.Groups[group])
	SortInstances(ws)
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.ID
	}
	return out
}

func (c *Cluster) sortedGroupNames() []string {
	names := make([]string, 0, len(c.Groups))
	for n := range c.Groups {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ExistsError is returned by Create when instances already carry the
// cluster's tag.
type ExistsError struct {
	Name string
	IDs  []string
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("instances tagged %s=%s already exist (%s). Import them with `terraform import <address> %s`, or destroy them, before creating this cluster; creating it again would double the cluster",
		TagCluster, e.Name, strings.Join(e.IDs, ", "), e.Name)
}

// SecurityGroupName is the cluster security group's name.
func SecurityGroupName(cluster string) string { return "rayvllm-" + cluster }

// TokenParameterName is the SSM SecureString holding the cluster's Ray token.
func TokenParameterName(cluster string) string { return "/rayvllm/" + cluster + "/ray-auth-token" }

// NewToken returns a random Ray auth token (256 bits, hex).
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// newClientToken is RunInstances' idempotency token: one per launch attempt,
// reused by the SDK's retries of that attempt. At most 64 ASCII characters.
func newClientToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "rayvllm-" + hex.EncodeToString(b)
}

// ErrorCode returns the AWS error code of err, or "".
func ErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// subnets are the subnets the cluster launches into.
func (s Spec) subnets() []string { return append([]string{s.SubnetID}, s.SubnetIDs...) }
