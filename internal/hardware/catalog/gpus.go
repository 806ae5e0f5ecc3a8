package catalog

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

// GiB is 2^30 bytes; every *GiB field in this package uses it.
const GiB = float64(1 << 30)

// GPU is one accelerator model. Memory is the usable total that the driver
// reports (torch.cuda.mem_get_info), not the marketing number.
type GPU struct {
	Name            string   // canonical catalog name, e.g. "H100-80GB-SXM"
	Aliases         []string // other accepted spellings, e.g. "h100", "NVIDIA H100 80GB HBM3"
	Vendor          string   // "nvidia" or "amd"
	Family          string   // "consumer", "datacenter", "workstation"
	Architecture    string   // "ampere", "ada", "hopper", "blackwell", "turing", "cdna3", ...
	MemoryGiB       float64  // usable total as CUDA/ROCm reports it
	NominalMemoryGB float64  // datasheet number (GB as the vendor prints it)
	BandwidthGBps   float64  // memory bandwidth, GB/s (1e9 bytes/s)
	BF16TFLOPS      float64  // dense bf16/fp16 tensor TFLOPS (no sparsity)
	FP8TFLOPS       float64  // dense fp8 TFLOPS; 0 when not supported
	INT8TOPS        float64  // dense int8 TOPS
	FP8             bool     // native fp8 tensor cores
	// Interconnect is how the GPUs of one instance reach each other for
	// tensor-parallel all-reduce: "nvlink" (NVLink/NVSwitch), "xgmi" (AMD
	// Infinity Fabric) or "pcie".
	Interconnect string
	// InterconnectGBps is the per-GPU, per-direction peer bandwidth of that
	// link in GB/s (NVLink 4: 900 GB/s bidirectional = 450 per direction).
	InterconnectGBps float64
	Custom           bool   // user-defined, not from the catalog
	Source           string // datasheet the figures come from
}

// The GPU catalog. MemoryGiB is what torch.cuda.mem_get_info() reports as
// the total (a little less than the datasheet number: the driver reserves
// some). Where a measured value was available it is used (the H100 probe in
// testdata/, vLLM start-up logs in testdata/vllm-observed.json, PyTorch OOM
// messages that print "total capacity"); otherwise it is the nvidia-smi
// total less the ~0.4 GiB the driver keeps, marked "approx." in Source.
//
// TFLOPS are dense (no 2:4 sparsity) tensor-core numbers from the vendor
// datasheets and architecture whitepapers:
//   - NVIDIA Ampere GA102 whitepaper (RTX 3090, A10, A40), A100 datasheet
//   - NVIDIA Ada Lovelace whitepaper (RTX 4060/4090, L4, L40, L40S) and the
//     L4/L40/L40S datasheets
//   - NVIDIA T4 datasheet, NVIDIA A10 datasheet
//   - NVIDIA H100 datasheet (SXM5 and PCIe), H200 datasheet, HGX B200 datasheet
//   - AMD Instinct MI300X and MI355X datasheets
//
// Interconnect bandwidths are per GPU and per direction, from the same
// datasheets (NVLink generation, Infinity Fabric links) or the PCIe
// generation and lane count of the card; an optional NVLink bridge on a PCIe
// card is not assumed, because cloud instances rarely fit one.
//
// GeForce cards are listed at the FP16/BF16 rate with FP32 accumulation,
// which is what bf16 inference kernels use.
var gpuCatalog = []GPU{
	{
		Name: "RTX-3090", Aliases: []string{"rtx3090", "3090", "geforce rtx 3090", "nvidia geforce rtx 3090"},
		Vendor: "nvidia", Family: "consumer", Architecture: "ampere",
		MemoryGiB: 23.58, NominalMemoryGB: 24, BandwidthGBps: 936, BF16TFLOPS: 71, INT8TOPS: 284,
		Interconnect: "pcie", InterconnectGBps: 32,
		Source: "NVIDIA Ampere GA102 GPU architecture whitepaper, table 9 (RTX 3090); 23.58 GiB as CUDA reports it; interconnect: PCIe 4.0 x16",
	},
	{
		Name: "RTX-4060", Aliases: []string{"rtx4060", "4060", "geforce rtx 4060", "nvidia geforce rtx 4060"},
		Vendor: "nvidia", Family: "consumer", Architecture: "ada",
		MemoryGiB: 7.63, NominalMemoryGB: 8, BandwidthGBps: 272, BF16TFLOPS: 60.5, FP8TFLOPS: 121, INT8TOPS: 242, FP8: true,
		Interconnect: "pcie", InterconnectGBps: 16,
		Source: "NVIDIA Ada Lovelace architecture whitepaper / RTX 4060 specifications; memory approx.; interconnect: PCIe 4.0 x8",
	},
	{
		Name: "RTX-4090", Aliases: []string{"rtx4090", "4090", "geforce rtx 4090", "nvidia geforce rtx 4090"},
		Vendor: "nvidia", Family: "consumer", Architecture: "ada",
		MemoryGiB: 23.65, NominalMemoryGB: 24, BandwidthGBps: 1008, BF16TFLOPS: 165.2, FP8TFLOPS: 330.3, INT8TOPS: 660.6, FP8: true,
		Interconnect: "pcie", InterconnectGBps: 32,
		Source: "NVIDIA Ada Lovelace GPU architecture whitepaper, appendix A (RTX 4090); 23.65 GiB from PyTorch OOM reports; interconnect: PCIe 4.0 x16",
	},
	{
		Name: "T4", Aliases: []string{"tesla t4", "nvidia t4", "nvidia tesla t4"},
		Vendor: "nvidia", Family: "datacenter", Architecture: "turing",
		MemoryGiB: 14.75, NominalMemoryGB: 16, BandwidthGBps: 320, BF16TFLOPS: 65, INT8TOPS: 130,
		Interconnect: "pcie", InterconnectGBps: 16,
		Source: "NVIDIA T4 datasheet (FP16 tensor 65 TFLOPS; Turing has no bf16, vLLM runs fp16); 14.75 GiB as CUDA reports it; interconnect: PCIe 3.0 x16",
	},
	{
		Name: "A10G", Aliases: []string{"nvidia a10g", "a10g"},
		Vendor: "nvidia", Family: "datacenter", Architecture: "ampere",
		MemoryGiB: 22.19, NominalMemoryGB: 24, BandwidthGBps: 600, BF16TFLOPS: 70, INT8TOPS: 140,
		Interconnect: "pcie", InterconnectGBps: 32,
		Source: "AWS EC2 G5 documentation (A10G has no public NVIDIA datasheet; 70 dense bf16 TFLOPS is the commonly quoted figure); 22.19 GiB from PyTorch OOM reports; interconnect: PCIe 4.0 x16",
	},
	{
		Name: "A10", Aliases: []string{"nvidia a10", "a10 24gb"},
		Vendor: "nvidia", Family: "datacenter", Architecture: "ampere",
		MemoryGiB: 22.07, NominalMemoryGB: 24, BandwidthGBps: 600, BF16TFLOPS: 125, INT8TOPS: 250,
		Interconnect: "pcie", InterconnectGBps: 32,
		Source: "NVIDIA A10 datasheet; 22.07 GiB from a vLLM start-up log (calibration record M25); interconnect: PCIe 4.0 x16",
	},
	{
		Name: "L4", Aliases: []string{"nvidia l4"},
		Vendor: "nvidia", Family: "datacenter", Architecture: "ada",
		MemoryGiB: 22.05, NominalMemoryGB: 24, BandwidthGBps: 300, BF16TFLOPS: 121, FP8TFLOPS: 242.5, INT8TOPS: 242.5, FP8: true,
		Interconnect: "pcie", InterconnectGBps: 32,
		Source: "NVIDIA L4 datasheet (sparsity figures halved); memory approx.; interconnect: PCIe 4.0 x16",
	},
	{
		Name: "A40", Aliases: []string{"nvidia a40"},
		Vendor: "nvidia", Family: "workstation", Architecture: "ampere",
		MemoryGiB: 44.35, NominalMemoryGB: 48, BandwidthGBps: 696, BF16TFLOPS: 149.7, INT8TOPS: 299.3,
		Interconnect: "pcie", InterconnectGBps: 32,
		Source: "NVIDIA A40 datasheet; memory approx.; interconnect: PCIe 4.0 x16; the optional NVLink bridge is not assumed",
	},
	{
		Name: "L40", Aliases: []string{"nvidia l40"},
		Vendor: "nvidia", Family: "workstation", Architecture: "ada",
		MemoryGiB: 44.4, NominalMemoryGB: 48, BandwidthGBps: 864, BF16TFLOPS: 181, FP8TFLOPS: 362, INT8TOPS: 362, FP8: true,
		Interconnect: "pcie", InterconnectGBps: 32,
		Source: "NVIDIA L40 datasheet (sparsity figures halved); memory approx.; interconnect: PCIe 4.0 x16",
	},
	{
		Name: "L40S", Aliases: []string{"nvidia l40s"},
		Vendor: "nvidia", Family: "datacenter", Architecture: "ada",
		MemoryGiB: 44.4, NominalMemoryGB: 48, BandwidthGBps: 864, BF16TFLOPS: 362.05, FP8TFLOPS: 733, INT8TOPS: 733, FP8: true,
		Interconnect: "pcie", InterconnectGBps: 32,
		Source: "NVIDIA L40S datasheet (sparsity figures halved); memory approx.; interconnect: PCIe 4.0 x16",
	},
	{
		Name: "A100-40GB", Aliases: []string{"a100 40gb", "a100-sxm4-40gb", "nvidia a100-sxm4-40gb", "nvidia a100-pcie-40gb", "a10040gb"},
		Vendor: "nvidia", Family: "datacenter", Architecture: "ampere",
		MemoryGiB: 39.38, NominalMemoryGB: 40, BandwidthGBps: 1555, BF16TFLOPS: 312, INT8TOPS: 624,
		Interconnect: "nvlink", InterconnectGBps: 300,
		Source: "NVIDIA A100 Tensor Core GPU datasheet; 39.38 GiB from a vLLM start-up log (calibration record M14); interconnect: NVLink 3, 600 GB/s bidirectional",
	},
	{
		Name: "A100-80GB", Aliases: []string{"a100", "a100 80gb", "a100-sxm4-80gb", "nvidia a100-sxm4-80gb", "nvidia a100 80gb pcie", "a100-pcie-80gb"},
		Vendor: "nvidia", Family: "datacenter", Architecture: "ampere",
		MemoryGiB: 79.15, NominalMemoryGB: 80, BandwidthGBps: 2039, BF16TFLOPS: 312, INT8TOPS: 624,
		Interconnect: "nvlink", InterconnectGBps: 300,
		Source: "NVIDIA A100 Tensor Core GPU datasheet (SXM4 80GB); 79.15 GiB from a vLLM start-up log (calibration record M20); interconnect: NVLink 3, 600 GB/s bidirectional",
	},
	{
		Name: "H100-80GB-SXM", Aliases: []string{"h100", "h100 sxm", "h100-sxm", "h100-80gb", "nvidia h100 80gb hbm3", "h100 80gb hbm3", "nvidia h100"},
		Vendor: "nvidia", Family: "datacenter", Architecture: "hopper",
		MemoryGiB: 79.18, NominalMemoryGB: 80, BandwidthGBps: 3350, BF16TFLOPS: 989.4, FP8TFLOPS: 1978.9, INT8TOPS: 1978.9, FP8: true,
		Interconnect: "nvlink", InterconnectGBps: 450,
		Source: "NVIDIA H100 Tensor Core GPU datasheet (SXM5); 79.18 GiB measured (testdata/h100-2026-11-26.json); interconnect: NVLink 4, 900 GB/s bidirectional",
	},
	{
		Name: "H100-80GB-PCIe", Aliases: []string{"h100 pcie", "h100-pcie", "nvidia h100 pcie"},
		Vendor: "nvidia", Family: "datacenter", Architecture: "hopper",
		MemoryGiB: 79.18, NominalMemoryGB: 80, BandwidthGBps: 2000, BF16TFLOPS: 756.5, FP8TFLOPS: 1513, INT8TOPS: 1513, FP8: true,
		Interconnect: "pcie", InterconnectGBps: 64,
		Source: "NVIDIA H100 Tensor Core GPU datasheet (PCIe); memory as the SXM part; interconnect: PCIe 5.0 x16; the optional NVLink bridge is not assumed",
	},
	{
		Name: "H100-NVL", Aliases: []string{"h100 nvl", "nvidia h100 nvl", "h100-nvl-94gb"},
		Vendor: "nvidia", Family: "datacenter", Architecture: "hopper",
		MemoryGiB: 93.1, NominalMemoryGB: 94, BandwidthGBps: 3900, BF16TFLOPS: 835.5, FP8TFLOPS: 1670.5, INT8TOPS: 1670.5, FP8: true,
		Interconnect: "nvlink", InterconnectGBps: 300,
		Source: "NVIDIA H100 NVL datasheet (sparsity figures halved); memory approx.; interconnect: NVLink bridge, 600 GB/s bidirectional between a pair",
	},
	{
		Name: "H200", Aliases: []string{"h200 141gb", "nvidia h200", "h200-141gb"},
		Vendor: "nvidia", Family: "datacenter", Architecture: "hopper",
		MemoryGiB: 139.80, NominalMemoryGB: 141, BandwidthGBps: 4800, BF16TFLOPS: 989.4, FP8TFLOPS: 1978.9, INT8TOPS: 1978.9, FP8: true,
		Interconnect: "nvlink", InterconnectGBps: 450,
		Source: "NVIDIA H200 Tensor Core GPU datasheet (SXM); 139.80 GiB measured (torch.cuda.mem_get_info, testdata/h200-sampler-2026-11-26.json); interconnect: NVLink 4, 900 GB/s bidirectional",
	},
	{
		Name: "B200", Aliases: []string{"nvidia b200", "b200 180gb"},
		Vendor: "nvidia", Family: "datacenter", Architecture: "blackwell",
		MemoryGiB: 178.35, NominalMemoryGB: 180, BandwidthGBps: 8000, BF16TFLOPS: 2250, FP8TFLOPS: 4500, INT8TOPS: 4500, FP8: true,
		Interconnect: "nvlink", InterconnectGBps: 900,
		Source: "NVIDIA HGX B200 datasheet (per GPU, sparsity figures halved); memory approx.; interconnect: NVLink 5, 1.8 TB/s bidirectional",
	},
	{
		Name: "MI300X", Aliases: []string{"amd mi300x", "amd instinct mi300x", "instinct mi300x", "mi300x 192gb"},
		Vendor: "amd", Family: "datacenter", Architecture: "cdna3",
		MemoryGiB: 191.98, NominalMemoryGB: 192, BandwidthGBps: 5300, BF16TFLOPS: 1307.4, FP8TFLOPS: 2614.9, INT8TOPS: 2614.9, FP8: true,
		Interconnect: "xgmi", InterconnectGBps: 448,
		Source: "AMD Instinct MI300X accelerator datasheet; memory approx. (ROCm reports nearly the full 192 GiB); interconnect: 7 Infinity Fabric links of 64 GB/s per direction (896 GB/s aggregate)",
	},
	{
		Name: "MI355X", Aliases: []string{"amd mi355x", "amd instinct mi355x", "instinct mi355x", "mi355x 288gb"},
		Vendor: "amd", Family: "datacenter", Architecture: "cdna4",
		MemoryGiB: 287.6, NominalMemoryGB: 288, BandwidthGBps: 8000, BF16TFLOPS: 2516.6, FP8TFLOPS: 5033.2, INT8TOPS: 5033.2, FP8: true,
		Interconnect: "xgmi", InterconnectGBps: 537.6,
		Source: "AMD Instinct MI355X datasheet (dense, no sparsity); memory approx.; interconnect: 7 Infinity Fabric links of 76.8 GB/s per direction (1075 GB/s aggregate)",
	},
}

// GPUs returns the catalog sorted by name.
func GPUs() []GPU {
	out := make([]GPU, len(gpuCatalog))
	copy(out, gpuCatalog)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// GPUNames returns the catalog names, sorted.
func GPUNames() []string {
	var n []string
	for _, g := range GPUs() {
		n = append(n, g.Name)
	}
	return n
}

// LookupGPU finds a catalog GPU by name or alias, case-insensitively.
func LookupGPU(name string) (GPU, error) {
	n := input.NormName(name)
	if n != "" {
		for _, g := range gpuCatalog {
			if input.NormName(g.Name) == n {
				return g, nil
			}
			for _, a := range g.Aliases {
				if input.NormName(a) == n {
					return g, nil
				}
			}
		}
	}
	names := GPUNames()
	return GPU{}, &input.InputError{Attribute: "gpu", Message: fmt.Sprintf("unknown GPU %q%s. Valid names: %s. For another GPU set gpu_memory_gib, gpu_memory_bandwidth_gbps and gpu_bf16_tflops instead.",
		name, input.DidYouMean(name, names), strings.Join(names, ", "))}
}

// CustomGPU is a user-defined GPU, e.g. a DGX Spark (128 GB unified memory,
// 273 GB/s). fp8TFLOPS may be 0 for a GPU without fp8 tensor cores.
func CustomGPU(memoryGiB, bandwidthGBps, bf16TFLOPS, fp8TFLOPS float64) (GPU, error) {
	check := func(attr string, v float64, allowZero bool) error {
		if v > 0 && v < 1e7 || allowZero && v == 0 {
			return nil
		}
		want := "a positive number"
		if allowZero {
			want = "0 (no fp8) or a positive number"
		}
		return &input.InputError{Attribute: attr, Message: fmt.Sprintf("got %g; must be %s (below 1e7)", v, want)}
	}
	if err := check("gpu_memory_gib", memoryGiB, false); err != nil {
		return GPU{}, err
	}
	if err := check("gpu_memory_bandwidth_gbps", bandwidthGBps, false); err != nil {
		return GPU{}, err
	}
	if err := check("gpu_bf16_tflops", bf16TFLOPS, false); err != nil {
		return GPU{}, err
	}
	if err := check("gpu_fp8_tflops", fp8TFLOPS, true); err != nil {
		return GPU{}, err
	}
	return GPU{
		Name: fmt.Sprintf("custom-%gGiB", memoryGiB), Vendor: "custom", Family: "custom", Architecture: "custom",
		MemoryGiB: memoryGiB, NominalMemoryGB: memoryGiB * GiB / 1e9, BandwidthGBps: bandwidthGBps,
		BF16TFLOPS: bf16TFLOPS, FP8TFLOPS: fp8TFLOPS, INT8TOPS: 2 * bf16TFLOPS, FP8: fp8TFLOPS > 0, Custom: true,
		Interconnect: "pcie", InterconnectGBps: 32,
		Source: "user-defined (interconnect assumed PCIe 4.0 x16)",
	}, nil
}

// SupportsBF16 reports whether the GPU has bf16 (compute capability >= 8.0).
func (g GPU) SupportsBF16() bool { return g.Architecture != "turing" }

// SupportsMarlin reports whether vLLM's Marlin weight-only kernels (used for
// fp8 weights without fp8 tensor cores, and for int4) run: sm80 and newer.
func (g GPU) SupportsMarlin() bool { return g.Architecture != "turing" }

// GPUArchitectures lists the catalog's GPU architecture families, sorted.
func GPUArchitectures() []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range gpuCatalog {
		if a := g.Architecture; a != "" && a != "custom" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}
