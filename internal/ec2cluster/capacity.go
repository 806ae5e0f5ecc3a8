package ec2cluster

import (
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Reservation is the capacity a group launches into before anything else:
// an On-Demand Capacity Reservation or a Capacity Block for ML (by ID), or a
// resource group of reservations (by ARN).
type Reservation struct {
	ID               string // cr-...
	ResourceGroupARN string // arn:aws:resource-groups:...
	// CapacityBlock launches with InstanceMarketOptions.MarketType
	// "capacity-block", which a Capacity Block for ML requires (EC2 User
	// Guide, "Launch instances into Capacity Blocks").
	CapacityBlock bool
	// FallbackToOnDemand launches on demand, without the reservation, when
	// EC2 refuses the reservation for capacity (it is full, or expired).
	FallbackToOnDemand bool
}

// attempt is one way to launch a group: an instance type, with or without
// its reservation.
type attempt struct {
	instanceType string
	reserved     bool
}

func (a attempt) String() string {
	if a.reserved {
		return a.instanceType + " in the capacity reservation"
	}
	return a.instanceType
}

// attempts are the ways to launch n, in order: each instance type (the
// first, then the fallbacks) in the reservation, then, when the reservation
// falls back (or there is none), each type without it. EC2 refusing an
// attempt for capacity (CapacityErrors) in every subnet moves to the next.
func (n NodeSpec) attempts() []attempt {
	types := append([]string{n.InstanceType}, n.FallbackInstanceTypes...)
	var out []attempt
	if n.Reservation != nil {
		for _, t := range types {
			out = append(out, attempt{t, true})
		}
		if !n.Reservation.FallbackToOnDemand {
			return out
		}
	}
	for _, t := range types {
		out = append(out, attempt{t, false})
	}
	return out
}

// launchesType reports whether n launches instances of type t: its type or
// a fallback (a worker of a fallback type stays).
func (n NodeSpec) launchesType(t string) bool {
	return t == n.InstanceType || slices.Contains(n.FallbackInstanceTypes, t)
}

// CapacityErrors are the RunInstances errors after which the next subnet,
// then the next attempt, is tried: the AZ's (AZCapacityErrors), and a full
// or inactive reservation (ReservationCapacityExceeded,
// InsufficientReservedInstanceCapacity; EC2 API reference, "Error codes").
func CapacityErrors(code string) bool {
	return AZCapacityErrors[code] || code == "ReservationCapacityExceeded" || code == "InsufficientReservedInstanceCapacity"
}

// shape sets what an attempt changes on the RunInstances input: the type,
// the reservation target and market, the placement group and the network
// interface (an EFA one replaces the subnet and security group fields).
func shape(in *ec2.RunInstancesInput, n NodeSpec, a attempt, subnet, sgID string) {
	in.InstanceType = ec2types.InstanceType(a.instanceType)
	in.CapacityReservationSpecification = nil
	if n.Spot {
		in.InstanceMarketOptions = spotOptions(n)
	} else {
		in.InstanceMarketOptions = nil
	}
	if r := n.Reservation; r != nil && a.reserved {
		t := &ec2types.CapacityReservationTarget{}
		if r.ID != "" {
			t.CapacityReservationId = aws.String(r.ID)
		} else {
			t.CapacityReservationResourceGroupArn = aws.String(r.ResourceGroupARN)
		}
		in.CapacityReservationSpecification = &ec2types.CapacityReservationSpecification{CapacityReservationTarget: t}
		if r.CapacityBlock {
			in.InstanceMarketOptions = &ec2types.InstanceMarketOptionsRequest{MarketType: ec2types.MarketTypeCapacityBlock}
		}
	}
	if n.PlacementGroup != "" {
		in.Placement = &ec2types.Placement{GroupName: aws.String(n.PlacementGroup)}
	}
	in.SubnetId, in.SecurityGroupIds, in.NetworkInterfaces = aws.String(subnet), []string{sgID}, nil
	if n.EFA {
		in.SubnetId, in.SecurityGroupIds = nil, nil
		in.NetworkInterfaces = []ec2types.InstanceNetworkInterfaceSpecification{{
			DeviceIndex: aws.Int32(0), NetworkCardIndex: aws.Int32(0), InterfaceType: aws.String("efa"),
			SubnetId: aws.String(subnet), Groups: []string{sgID}, DeleteOnTermination: aws.Bool(true),
		}}
	}
}

func spotOptions(n NodeSpec) *ec2types.InstanceMarketOptionsRequest {
	opts := &ec2types.SpotMarketOptions{
		SpotInstanceType:             ec2types.SpotInstanceTypeOneTime,
		InstanceInterruptionBehavior: ec2types.InstanceInterruptionBehaviorTerminate,
	}
	if n.SpotMaxPrice != "" {
		opts.MaxPrice = aws.String(n.SpotMaxPrice)
	}
	return &ec2types.InstanceMarketOptionsRequest{MarketType: ec2types.MarketTypeSpot, SpotOptions: opts}
}

// capacityNodeConfig adds the group's capacity settings to its autoscaler
// node_config, in boto3's RunInstances shape; the node provider
// (scripts/rayvllm_autoscaler.py) tries the fallback types
// (FallbackTypesKey) and, when ReservationFallbackKey is set, the launch
// without the reservation.
func capacityNodeConfig(nc map[string]any, n NodeSpec, subnets []string, sgID string) {
	if len(n.FallbackInstanceTypes) > 0 {
		nc[FallbackTypesKey] = n.FallbackInstanceTypes
	}
	if r := n.Reservation; r != nil {
		t := map[string]string{"CapacityReservationId": r.ID}
		if r.ID == "" {
			t = map[string]string{"CapacityReservationResourceGroupArn": r.ResourceGroupARN}
		}
		nc["CapacityReservationSpecification"] = map[string]any{"CapacityReservationTarget": t}
		if r.CapacityBlock {
			nc["InstanceMarketOptions"] = map[string]any{"MarketType": "capacity-block"}
		}
		if r.FallbackToOnDemand {
			nc[ReservationFallbackKey] = true
		}
	}
	if n.PlacementGroup != "" {
		nc["Placement"] = map[string]string{"GroupName": n.PlacementGroup}
	}
	if n.EFA {
		// Ray's node provider launches NetworkInterfaces as given (no
		// subnet rotation): a cluster placement group is in one AZ anyway.
		nc["NetworkInterfaces"] = []any{map[string]any{
			"DeviceIndex": 0, "NetworkCardIndex": 0, "InterfaceType": "efa",
			"SubnetId": subnets[0], "Groups": []string{sgID}, "DeleteOnTermination": true,
		}}
	}
}
