package catalog

import (
	"fmt"
	"slices"
	"sort"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

// rayAcceleratorGPUs maps Ray accelerator types (ray.util.accelerators, the
// names rayvllm_vllm_worker and rayvllm_batch_job schedule on) onto the GPU
// catalog, largest part first. Ray's "A100" label covers the 40 and 80 GB
// parts.
var rayAcceleratorGPUs = map[string][]string{
	"T4": {"T4"}, "A10G": {"A10G"}, "A10": {"A10G"}, "L4": {"L4"}, "L40S": {"L40S"},
	"A100": {"A100-80GB", "A100-40GB"}, "A100-40G": {"A100-40GB"}, "A100-80G": {"A100-80GB"},
	"H100": {"H100-80GB-SXM"}, "H200": {"H200"}, "B200": {"B200"},
	"AMD-Instinct-MI300X-OAM": {"MI300X"}, "AMD-Instinct-MI300X-HF": {"MI300X"},
}

// AcceleratorGPUs resolves a Ray accelerator type, or else a GPU catalog
// name or alias, to the catalog GPUs it may land on, largest first. It
// returns an error when neither catalog knows the name.
func AcceleratorGPUs(name string) ([]GPU, error) {
	names, ok := rayAcceleratorGPUs[name]
	if !ok {
		g, err := LookupGPU(name)
		if err != nil {
			return nil, err
		}
		return []GPU{g}, nil
	}
	gpus := make([]GPU, 0, len(names))
	for _, n := range names {
		g, err := LookupGPU(n)
		if err != nil {
			return nil, fmt.Errorf("ray accelerator %q maps to %q, which the GPU catalog lacks: %w", name, n, err)
		}
		gpus = append(gpus, g)
	}
	return gpus, nil
}

// rayLabelOf is the Ray accelerator label (ray.util.accelerators) of a
// catalog GPU: what accelerator_type must say to land on it.
var rayLabelOf = map[string]string{
	"T4": "T4", "A10G": "A10G", "A10": "A10", "L4": "L4", "L40S": "L40S", "A100-40GB": "A100-40G", "A100-80GB": "A100-80G",
	"H100-80GB-SXM": "H100", "H100-80GB-PCIe": "H100", "H100-NVL": "H100", "H200": "H200", "B200": "B200", "MI300X": "AMD-Instinct-MI300X-OAM",
}

// RayLabel returns the Ray accelerator label of a GPU catalog name or
// alias: label is "" when the catalog knows the GPU but Ray has no label
// for it, and known is false when the catalog does not know the name.
func RayLabel(name string) (label, catalogName string, known bool) {
	g, err := LookupGPU(name)
	if err != nil {
		return "", "", false
	}
	return rayLabelOf[g.Name], g.Name, true
}

// ClosestAccelerator is the Ray label nearest to name among the labels
// and the catalog's names and aliases (an alias stands for its GPU's
// label): "H1000" is nearest the H100's alias "h100", so "H100".
func ClosestAccelerator(name string, labels []string) string {
	cands := slices.Clone(labels)
	label := map[string]string{}
	for _, l := range labels {
		label[l] = l
	}
	for _, g := range gpuCatalog {
		l := rayLabelOf[g.Name]
		if !slices.Contains(labels, l) {
			continue
		}
		for _, a := range append([]string{g.Name}, g.Aliases...) {
			if _, dup := label[a]; !dup {
				cands, label[a] = append(cands, a), l
			}
		}
	}
	sort.Strings(cands[len(labels):]) // a fixed order among equally near aliases
	return label[input.Closest(name, cands)]
}
