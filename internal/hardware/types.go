// Package hardware is the plan-time engine: the vLLM (V1 engine) memory
// model (fit), a roofline throughput and sizing model, engine defaults and
// the quantization math. It reads models through hfconfig and GPUs through
// catalog. It is plain Go with no Terraform imports so it can be tested and
// reused on its own.
package hardware

import (
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
)

// Quantization names accepted by FitInput.Quantization.
var Quantizations = []string{"none", "fp32", "fp16", "bf16", "fp8", "int8", "int4", "awq", "gptq", "bitsandbytes"}

// KVCacheDTypes accepted by FitInput.KVCacheDType.
var KVCacheDTypes = []string{"auto", "fp8"}

// Objectives accepted by SizingInput.Objective.
var Objectives = []string{"throughput", "latency"}

// FitInput describes one vLLM engine (one replica).
type FitInput struct {
	Model                hfconfig.Model
	GPU                  catalog.GPU
	TensorParallelSize   int     // >=1; must divide the attention heads
	PipelineParallelSize int     // 0 or 1 = one stage; each stage holds 1/pp of the layers
	Quantization         string  // one of Quantizations; "" or "none" = the checkpoint's dtype
	KVCacheDType         string  // "auto" (the model dtype) or "fp8"
	MaxModelLen          int     // 0 = the model's MaxPositionEmbeddings
	GPUMemoryUtilization float64 // (0,1]; vLLM's default is 0.9
	MaxNumBatchedTokens  int     // chunked-prefill budget per step; 0 = vLLM's default
	MaxNumSeqs           int     // 0 = vLLM's default (256)
	BlockSize            int     // KV block size in tokens; 0 = 16
	// CPUOffloadGiB is vLLM's cpu_offload_gb: GiB of each GPU's weights
	// kept in pinned CPU memory and read over the interconnect; >= 0.
	CPUOffloadGiB float64
	// EngineContext picks vLLM's batch defaults: "batch_job" (Ray Data LLM,
	// the default), "worker" (Ray Serve LLM) or "llm_class".
	EngineContext string
	// VLLMVersion is the engine release; "" = DefaultVLLMVersion.
	VLLMVersion string
	// MaxTensorParallel caps the tensor-parallel sizes suggestions offer
	// (the GPUs of one instance); 0 = 16.
	MaxTensorParallel int
	// EC2Only limits suggested GPUs to those with an EC2 instance type.
	EC2Only bool
	// RayLabels: the engine is placed by a Ray accelerator_type and takes
	// vLLM's quantization names (rayvllm_vllm_worker, rayvllm_batch_job), so
	// suggestions name those rather than catalog GPUs and sizing-only values.
	RayLabels bool
}

// FitResult is the predicted start-up memory accounting of one GPU of the
// engine (per GPU when tensor parallel) and whether vLLM would start.
type FitResult struct {
	Fits              bool
	GPUTotalMemoryGiB float64
	BudgetGiB         float64 // total × gpu_memory_utilization
	WeightsGiB        float64 // per GPU, resident (without CPUOffloadGiB)
	CPUOffloadGiB     float64 // per GPU, the weights cpu_offload_gb moves to CPU memory
	ActivationPeakGiB float64
	NonTorchGiB       float64
	CUDAGraphGiB      float64
	// CUDAGraphInKVBudget: the release subtracts CUDAGraphGiB from the KV
	// cache (v0.21+); otherwise graphs use the (1 − utilization) margin.
	CUDAGraphInKVBudget bool
	EngineContext       string
	VLLMVersion         string
	KVCacheGiB          float64 // per GPU; negative when it does not fit
	KVCacheBytesPerTok  int64   // per GPU, all layers
	KVCacheTokens       int64   // engine-wide
	MaxConcurrency      float64 // KV tokens / max_model_len
	MaxModelLen         int
	MaxNumBatchedTokens int // the effective value used
	MaxNumSeqs          int // the effective value used
	HeadroomGiB         float64
	ShortfallGiB        float64 // how much memory is missing; 0 when it fits
	Reasons             []string
	Suggestions         []string
}

// Workload is a batch of prompts.
type Workload struct {
	NumRequests      int64
	MeanInputTokens  int
	MeanOutputTokens int
	// SharedPrefixTokens every prompt starts with (a system prompt), which
	// prefix caching computes once; 0 = none.
	SharedPrefixTokens int
	// PrefixCaching is vLLM's enable_prefix_caching (on by default in V1).
	PrefixCaching bool
}

// SizingInput sizes a batch run of a workload on one engine configuration.
type SizingInput struct {
	Fit      FitInput
	Workload Workload
	// Objective is "throughput" (large prefill chunks, many sequences) or
	// "latency" (512-token chunks, fewer sequences).
	Objective string
	// GPUs available in total. 0 means: derive from SLAHours.
	GPUs int
	// SLAHours is the deadline; 0 means none.
	SLAHours float64
	// TargetKVCacheUtilization caps the KV cache share that max_num_seqs is
	// sized for, in (0,1].
	TargetKVCacheUtilization float64
	// PricePerGPUHourUSD; 0 means unknown (cost outputs are 0), or the
	// instance type's price per GPU when Instance is set.
	PricePerGPUHourUSD float64
	// Instance, when set, is the EC2 instance type the run buys: the GPU
	// must be its GPU, TP at most its GPUs, and cost counts whole instances.
	Instance *catalog.InstanceType
	// Measured is a previous run of the same model, GPU and engine settings;
	// the prediction is rescaled to match it.
	Measured *MeasuredRun
	// PlanFor is the throughput level hours, cost, GPUs and the SLA check
	// use: PlanSafe (default, the low end of the range) or PlanTypical.
	PlanFor string
	// ModelSource is where each node downloads the checkpoint from
	// (ModelSourceHub, default, or ModelSourceS3); PreparedImage skips the
	// install. Both set the start-up added per node launch.
	ModelSource   string
	PreparedImage bool
}

// MeasuredRun is what a previous rayvllm_batch_job measured.
type MeasuredRun struct {
	EngineOutputTokensPerSecond float64 // metrics.engine_output_tokens_per_second (all replicas)
	MeanInputTokens             int     // metrics.input_tokens / metrics.rows
	MeanOutputTokens            int     // metrics.output_tokens / metrics.rows
	Replicas                    int     // engine replicas of that run; 0 = 1
	Requests                    int64   // metrics.rows; 0 = unknown (steady state)
}

// SizingResult is the recommended configuration and the predicted run.
type SizingResult struct {
	Fit                             FitResult
	MaxNumSeqs                      int
	MaxNumBatchedTokens             int
	BatchSize                       int // Ray Data batch_size
	Concurrency                     int // Ray Data concurrency = engine replicas
	GPUsUsed                        int
	RequestsPerSecond               float64 // all replicas
	OutputTokensPerSecond           float64 // all replicas
	PerReplicaRequestsPerSecond     float64
	PerReplicaOutputTokensPerSecond float64
	HoursToComplete                 float64
	GPUsRequired                    int // to meet SLAHours; 0 when no SLA
	CostUSD                         float64
	CostPerMillionOutputTokensUSD   float64
	// RequestsPerSecondLow/High bound RequestsPerSecond by the calibration's
	// leave-one-out spread.
	RequestsPerSecondLow  float64
	RequestsPerSecondHigh float64
	// InstancesRequired is whole instances of SizingInput.Instance.
	InstancesRequired int
	// MeasuredScale is measured ÷ predicted of SizingInput.Measured (0: none).
	MeasuredScale float64
	MeetsSLA      bool
	Notes         []string
	// PlanFor is the level HoursToComplete, CostUSD, GPUsRequired,
	// InstancesRequired and MeetsSLA are at; HoursFastest/Slowest and
	// CostUSDLow/High are the run at the two ends of the range (same GPUs).
	PlanFor                    string
	HoursFastest, HoursSlowest float64
	CostUSDLow, CostUSDHigh    float64
	RatioLow, RatioHigh        float64 // observed ÷ predicted at the ends of the range
	LoweredMaxNumSeqsFrom      int     // the recommendation lowered max_num_seqs from this to fit (0: not lowered)
	LoweredMaxNumBatchedTokens int     // … and max_num_batched_tokens from this (0: not lowered)
	Startup                    Startup // one node launch, included in the hours and cost
}
