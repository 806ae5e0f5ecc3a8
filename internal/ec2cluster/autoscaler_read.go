package ec2cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// AutoscalerSettings is what RenderAutoscalerConfig put into the head's
// user data, read back for import.
type AutoscalerSettings struct {
	Groups             []GroupSpec // Name, NodeSpec and Autoscale
	IdleTimeoutMinutes int
	// NodeProfile is the workers' instance profile as configured (name or
	// ARN); "" when no node type names one.
	NodeProfile string
	// SubnetIDs are the node types' subnets, subnet_id first.
	SubnetIDs []string
}

// ParseAutoscalerConfig reads an autoscaler config (RenderAutoscalerConfig's
// JSON) back into the groups it scales.
func ParseAutoscalerConfig(raw string) (*AutoscalerSettings, error) {
	var cfg struct {
		Idle     int `json:"idle_timeout_minutes"`
		Provider struct {
			Fallback []string `json:"rayvllm_spot_fallback"`
		} `json:"provider"`
		Types map[string]struct {
			Min        int `json:"min_workers"`
			MaxWorkers int `json:"max_workers"`
			NodeConfig struct {
				ImageID             string `json:"ImageId"`
				InstanceType        string
				IamInstanceProfile  map[string]string
				SubnetIDs           []string `json:"SubnetIds"`
				BlockDeviceMappings []struct {
					Ebs struct {
						VolumeSize int32
						VolumeType string
					}
				}
				InstanceMarketOptions *struct {
					MarketType  string
					SpotOptions struct{ MaxPrice string }
				}
				FallbackTypes                    []string `json:"rayvllm_fallback_instance_types"`
				ReservationFallback              bool     `json:"rayvllm_reservation_fallback_to_on_demand"`
				CapacityReservationSpecification *struct {
					CapacityReservationTarget struct {
						CapacityReservationID               string `json:"CapacityReservationId"`
						CapacityReservationResourceGroupArn string
					}
				}
				Placement         struct{ GroupName string }
				NetworkInterfaces []struct{ InterfaceType string }
			} `json:"node_config"`
		} `json:"available_node_types"`
	}
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return nil, fmt.Errorf("the head's autoscaler config is not JSON: %w", err)
	}
	s := &AutoscalerSettings{IdleTimeoutMinutes: cfg.Idle}
	names := make([]string, 0, len(cfg.Types))
	for n := range cfg.Types {
		if n != HeadNodeType {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		t := cfg.Types[n]
		nc := t.NodeConfig
		g := GroupSpec{Name: n, NodeSpec: NodeSpec{InstanceType: nc.InstanceType, AMI: nc.ImageID}, Autoscale: &Autoscale{Min: t.Min, Max: t.MaxWorkers}}
		if len(nc.BlockDeviceMappings) > 0 {
			g.RootVolumeGiB, g.RootVolumeType = nc.BlockDeviceMappings[0].Ebs.VolumeSize, nc.BlockDeviceMappings[0].Ebs.VolumeType
		}
		if m := nc.InstanceMarketOptions; m != nil && m.MarketType == "spot" {
			g.Spot, g.SpotMaxPrice = true, m.SpotOptions.MaxPrice
		}
		g.FallbackInstanceTypes, g.PlacementGroup = nc.FallbackTypes, nc.Placement.GroupName
		g.EFA = len(nc.NetworkInterfaces) > 0 && nc.NetworkInterfaces[0].InterfaceType == "efa"
		if r := nc.CapacityReservationSpecification; r != nil {
			t := r.CapacityReservationTarget
			g.Reservation = &Reservation{ID: t.CapacityReservationID, ResourceGroupARN: t.CapacityReservationResourceGroupArn,
				CapacityBlock: nc.InstanceMarketOptions != nil && nc.InstanceMarketOptions.MarketType == "capacity-block", FallbackToOnDemand: nc.ReservationFallback}
		}
		for _, f := range cfg.Provider.Fallback {
			g.Autoscale.SpotFallback = g.Autoscale.SpotFallback || f == n
		}
		if p := nc.IamInstanceProfile["Arn"] + nc.IamInstanceProfile["Name"]; p != "" {
			s.NodeProfile = p
		}
		s.Groups = append(s.Groups, g)
		s.SubnetIDs = nc.SubnetIDs
	}
	return s, nil
}

// HeadRoleARN returns the ARN of the head's role that Create makes
// (HeadRoleName), or "" when it does not exist.
func (c *Client) HeadRoleARN(ctx context.Context, cluster string) (string, error) {
	out, err := c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(HeadRoleName(cluster))})
	if isIAMCode(err, "NoSuchEntity") {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the head's IAM role %s: %w", HeadRoleName(cluster), err)
	}
	return aws.ToString(out.Role.Arn), nil
}
