// Package catalog is the GPU and AWS instance catalog: GPU specifications
// (memory, bandwidth, TFLOPS, interconnect) with their datasheet sources,
// EC2 GPU instance types with their on-demand prices, and the Ray
// accelerator labels that schedule onto them. It is plain data and lookups,
// with no Terraform imports and none of the vLLM model (package hardware).
package catalog
