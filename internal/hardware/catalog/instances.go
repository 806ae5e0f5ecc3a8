package catalog

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

// PriceDate is the date the on-demand prices below are believed to reflect.
//
// The prices are AWS us-east-1 Linux on-demand LIST prices as of this date,
// written from the public AWS price list (aws.amazon.com/ec2/pricing/on-demand
// and the instance-type pages). They include the June 2025 price reduction on
// P4d/P4de/P5/P5en. They are not fetched at plan time; check them against
// the AWS Price List API before budgeting. p5e and p5en prices are the least
// certain (mostly sold through capacity blocks).
const PriceDate = "2025-08-15"

// InstanceType is an AWS EC2 instance type with GPUs.
type InstanceType struct {
	Name            string  // "g5.xlarge"
	GPU             string  // catalog GPU name
	GPUCount        int     // GPUs per instance
	VCPUs           int     // vCPUs
	MemoryGiB       float64 // host memory
	PriceUSDPerHour float64 // us-east-1 Linux on-demand
	PriceDate       string  // date the price was read, YYYY-MM-DD
	// EFA: the type takes Elastic Fabric Adapter interfaces: AWS's
	// DescribeInstanceTypes NetworkInfo.EfaSupported (the EC2 User Guide,
	// "Elastic Fabric Adapter", "Supported instance types"), as moto ships
	// AWS's data; TestAccInferenceCluster_catalogMatchesEC2 compares them.
	EFA bool
}

// PricePerGPUHourUSD is the on-demand price divided by the GPU count.
func (it InstanceType) PricePerGPUHourUSD() float64 {
	return it.PriceUSDPerHour / float64(it.GPUCount)
}

// Specs from the AWS "Accelerated computing instance types" documentation.
var instanceCatalog = []InstanceType{
	// g4dn: NVIDIA T4.
	{Name: "g4dn.xlarge", GPU: "T4", GPUCount: 1, VCPUs: 4, MemoryGiB: 16, PriceUSDPerHour: 0.526},
	{Name: "g4dn.2xlarge", GPU: "T4", GPUCount: 1, VCPUs: 8, MemoryGiB: 32, PriceUSDPerHour: 0.752},
	{Name: "g4dn.4xlarge", GPU: "T4", GPUCount: 1, VCPUs: 16, MemoryGiB: 64, PriceUSDPerHour: 1.204},
	{Name: "g4dn.8xlarge", GPU: "T4", GPUCount: 1, VCPUs: 32, MemoryGiB: 128, PriceUSDPerHour: 2.176, EFA: true},
	{Name: "g4dn.16xlarge", GPU: "T4", GPUCount: 1, VCPUs: 64, MemoryGiB: 256, PriceUSDPerHour: 4.352, EFA: true},
	{Name: "g4dn.12xlarge", GPU: "T4", GPUCount: 4, VCPUs: 48, MemoryGiB: 192, PriceUSDPerHour: 3.912, EFA: true},
	{Name: "g4dn.metal", GPU: "T4", GPUCount: 8, VCPUs: 96, MemoryGiB: 384, PriceUSDPerHour: 7.824, EFA: true},
	// g5: NVIDIA A10G.
	{Name: "g5.xlarge", GPU: "A10G", GPUCount: 1, VCPUs: 4, MemoryGiB: 16, PriceUSDPerHour: 1.006},
	{Name: "g5.2xlarge", GPU: "A10G", GPUCount: 1, VCPUs: 8, MemoryGiB: 32, PriceUSDPerHour: 1.212},
	{Name: "g5.4xlarge", GPU: "A10G", GPUCount: 1, VCPUs: 16, MemoryGiB: 64, PriceUSDPerHour: 1.624},
	{Name: "g5.8xlarge", GPU: "A10G", GPUCount: 1, VCPUs: 32, MemoryGiB: 128, PriceUSDPerHour: 2.448, EFA: true},
	{Name: "g5.16xlarge", GPU: "A10G", GPUCount: 1, VCPUs: 64, MemoryGiB: 256, PriceUSDPerHour: 4.096, EFA: true},
	{Name: "g5.12xlarge", GPU: "A10G", GPUCount: 4, VCPUs: 48, MemoryGiB: 192, PriceUSDPerHour: 5.672, EFA: true},
	{Name: "g5.24xlarge", GPU: "A10G", GPUCount: 4, VCPUs: 96, MemoryGiB: 384, PriceUSDPerHour: 8.144, EFA: true},
	{Name: "g5.48xlarge", GPU: "A10G", GPUCount: 8, VCPUs: 192, MemoryGiB: 768, PriceUSDPerHour: 16.288, EFA: true},
	// g6: NVIDIA L4.
	{Name: "g6.xlarge", GPU: "L4", GPUCount: 1, VCPUs: 4, MemoryGiB: 16, PriceUSDPerHour: 0.8048},
	{Name: "g6.2xlarge", GPU: "L4", GPUCount: 1, VCPUs: 8, MemoryGiB: 32, PriceUSDPerHour: 0.9776},
	{Name: "g6.4xlarge", GPU: "L4", GPUCount: 1, VCPUs: 16, MemoryGiB: 64, PriceUSDPerHour: 1.3232},
	{Name: "g6.8xlarge", GPU: "L4", GPUCount: 1, VCPUs: 32, MemoryGiB: 128, PriceUSDPerHour: 2.0144, EFA: true},
	{Name: "g6.16xlarge", GPU: "L4", GPUCount: 1, VCPUs: 64, MemoryGiB: 256, PriceUSDPerHour: 3.3968, EFA: true},
	{Name: "g6.12xlarge", GPU: "L4", GPUCount: 4, VCPUs: 48, MemoryGiB: 192, PriceUSDPerHour: 4.6016, EFA: true},
	{Name: "g6.24xlarge", GPU: "L4", GPUCount: 4, VCPUs: 96, MemoryGiB: 384, PriceUSDPerHour: 6.6752, EFA: true},
	{Name: "g6.48xlarge", GPU: "L4", GPUCount: 8, VCPUs: 192, MemoryGiB: 768, PriceUSDPerHour: 13.3504, EFA: true},
	// g6e: NVIDIA L40S.
	{Name: "g6e.xlarge", GPU: "L40S", GPUCount: 1, VCPUs: 4, MemoryGiB: 32, PriceUSDPerHour: 1.861},
	{Name: "g6e.2xlarge", GPU: "L40S", GPUCount: 1, VCPUs: 8, MemoryGiB: 64, PriceUSDPerHour: 2.24208},
	{Name: "g6e.4xlarge", GPU: "L40S", GPUCount: 1, VCPUs: 16, MemoryGiB: 128, PriceUSDPerHour: 3.00424},
	{Name: "g6e.8xlarge", GPU: "L40S", GPUCount: 1, VCPUs: 32, MemoryGiB: 256, PriceUSDPerHour: 4.52856, EFA: true},
	{Name: "g6e.16xlarge", GPU: "L40S", GPUCount: 1, VCPUs: 64, MemoryGiB: 512, PriceUSDPerHour: 7.57719, EFA: true},
	{Name: "g6e.12xlarge", GPU: "L40S", GPUCount: 4, VCPUs: 48, MemoryGiB: 384, PriceUSDPerHour: 10.49264, EFA: true},
	{Name: "g6e.24xlarge", GPU: "L40S", GPUCount: 4, VCPUs: 96, MemoryGiB: 768, PriceUSDPerHour: 15.06559, EFA: true},
	{Name: "g6e.48xlarge", GPU: "L40S", GPUCount: 8, VCPUs: 192, MemoryGiB: 1536, PriceUSDPerHour: 30.13118, EFA: true},
	// p4d / p4de: NVIDIA A100 40 GB / 80 GB.
	{Name: "p4d.24xlarge", GPU: "A100-40GB", GPUCount: 8, VCPUs: 96, MemoryGiB: 1152, PriceUSDPerHour: 21.96, EFA: true},
	{Name: "p4de.24xlarge", GPU: "A100-80GB", GPUCount: 8, VCPUs: 96, MemoryGiB: 1152, PriceUSDPerHour: 27.447, EFA: true},
	// p5: NVIDIA H100 80 GB (SXM); p5e / p5en: NVIDIA H200.
	{Name: "p5.4xlarge", GPU: "H100-80GB-SXM", GPUCount: 1, VCPUs: 16, MemoryGiB: 256, PriceUSDPerHour: 6.88, EFA: true},
	{Name: "p5.48xlarge", GPU: "H100-80GB-SXM", GPUCount: 8, VCPUs: 192, MemoryGiB: 2048, PriceUSDPerHour: 55.04, EFA: true},
	{Name: "p5e.48xlarge", GPU: "H200", GPUCount: 8, VCPUs: 192, MemoryGiB: 2048, PriceUSDPerHour: 60.92, EFA: true},
	{Name: "p5en.48xlarge", GPU: "H200", GPUCount: 8, VCPUs: 192, MemoryGiB: 2048, PriceUSDPerHour: 63.296, EFA: true},
}

func init() {
	for i := range instanceCatalog {
		instanceCatalog[i].PriceDate = PriceDate
	}
}

// Instances returns the EC2 catalog sorted by name.
func Instances() []InstanceType {
	out := make([]InstanceType, len(instanceCatalog))
	copy(out, instanceCatalog)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupInstance finds an instance type by its exact (case-insensitive) name.
func LookupInstance(name string) (InstanceType, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	var names []string
	for _, it := range instanceCatalog {
		if it.Name == n {
			return it, nil
		}
		names = append(names, it.Name)
	}
	sort.Strings(names)
	return InstanceType{}, &input.InputError{Attribute: "instance_type", Message: fmt.Sprintf("unknown EC2 instance type %q%s. Valid: %s.",
		name, input.DidYouMean(name, names), strings.Join(names, ", "))}
}
