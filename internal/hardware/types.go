// Package hardware is the plan-time engine: GPU, instance and model catalogs,
// the vLLM (V1 engine) memory model and a roofline sizing model. It is plain
// Go with no Terraform imports so it can be tested and reused on its own.
package hardware

import "fmt"

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

// InstanceType is an AWS EC2 instance type with GPUs.
type InstanceType struct {
	Name            string  // "g5.xlarge"
	GPU             string  // catalog GPU name
	GPUCount        int     // GPUs per instance
	VCPUs           int     // vCPUs
	MemoryGiB       float64 // host memory
	PriceUSDPerHour float64 // us-east-1 Linux on-demand
	PriceDate       string  // date the price was read, YYYY-MM-DD
}

// PricePerGPUHourUSD is the on-demand price divided by the GPU count.
func (it InstanceType) PricePerGPUHourUSD() float64 {
	return it.PriceUSDPerHour / float64(it.GPUCount)
}

// Model is a decoder-only transformer architecture, as read from a Hugging
// Face config.json or the built-in catalog.
type Model struct {
	ID           string // Hugging Face id, or "custom" for a config.json
	Architecture string // the config's architectures[0], e.g. "Qwen2ForCausalLM"
	// ModelType is the config's model_type (of the text model for a
	// multimodal one), e.g. "qwen2"; "" when unknown.
	ModelType             string
	NumLayers             int
	HiddenSize            int
	NumHeads              int
	NumKVHeads            int
	HeadDim               int
	IntermediateSize      int
	VocabSize             int
	TiedEmbeddings        bool
	MaxPositionEmbeddings int // the longest max_model_len vLLM accepts (its derived max_model_len)
	// DefaultMaxModelLen is vLLM's max_model_len when none is given; 0 means
	// MaxPositionEmbeddings (LongRoPE models default to the original length).
	DefaultMaxModelLen int
	SlidingWindow      int // 0 when full attention everywhere
	// SlidingWindowLayers is how many layers use the sliding window (the rest
	// are full attention); 0 with SlidingWindow>0 means all layers.
	SlidingWindowLayers int
	AttentionBias       bool // q/k/v projections carry a bias (Qwen2)
	// Mixture of experts. NumExperts==0 means dense.
	NumExperts             int
	NumActiveExperts       int
	ExpertIntermediateSize int
	NumSharedExperts       int
	FirstDenseLayers       int // leading dense layers (DeepSeek first_k_dense_replace)
	// Multi-head latent attention (DeepSeek-V2/V3). KVLoraRank==0 means none.
	KVLoraRank    int
	QLoraRank     int
	QKRopeHeadDim int
	QKNopeHeadDim int
	VHeadDim      int
	// TorchDType is the checkpoint's dtype ("bfloat16", "float16", "float32").
	TorchDType string
	// Quantization is what the checkpoint's quantization_config says; nil for
	// an unquantized checkpoint.
	Quantization *QuantConfig
	// PublishedParams is the parameter count the model card publishes, used
	// only by tests; 0 when unknown.
	PublishedParams int64
	// Aliases are other accepted ids (e.g. the -Instruct variant).
	Aliases []string
	// RotaryDim is the rotary embedding width; 0 means HeadDim (MLA: the
	// rope head dim). vLLM keeps a cos/sin cache of RopePositions × RotaryDim.
	RotaryDim int
	// RopePositions is the length of that cache; 0 means MaxPositionEmbeddings.
	RopePositions int
	// NormsPerLayer is the number of hidden-size norms per layer; 0 means 2
	// (Gemma-2 has 4).
	NormsPerLayer int
	// SharedExpertIntermediateSize is the total intermediate size of the
	// shared expert(s); 0 means NumSharedExperts × ExpertIntermediateSize.
	SharedExpertIntermediateSize int
	// VisionParams counts a multimodal encoder (loaded with the weights, not
	// used for text tokens).
	VisionParams int64
	// AttnOutputGate: q_proj also yields a per-head output gate (Qwen3-Next).
	AttnOutputGate bool
	// SharedExpertGate: a 1-wide sigmoid gate scales the shared expert
	// (Qwen2-MoE, Qwen3-Next).
	SharedExpertGate bool
	// UngatedMLP: the dense MLP is up and down only (Nemotron-H's relu²).
	UngatedMLP bool
	// NoRope: the attention has no rotary embedding, so no cos/sin cache
	// (Jamba, Nemotron-H, Granite-4.0-H with position_embedding_type nope).
	NoRope bool
	// State is the recurrent mixer of a hybrid model's non-attention layers
	// (hybrid.go); nil for a transformer with attention in every layer.
	State *StateMixer
	// LayerMixers and LayerFFNs describe a hybrid model's layers, one byte
	// per layer. Mixers: 'A' attention, 'S' the state mixer, 'P' both in
	// parallel (Falcon-H1). FFNs: 'D' dense MLP, 'E' mixture of experts,
	// '-' none.
	LayerMixers, LayerFFNs string
	// AttentionChunk is the chunk of chunked local attention (Llama 4's
	// attention_chunk_size); ChunkedLayers how many layers use it (the rest
	// are full attention). 0: none (llama4.go).
	AttentionChunk, ChunkedLayers int
	// MoEStep: experts on every MoEStep-th layer, dense MLPs of
	// IntermediateSize elsewhere (Llama 4's interleave_moe_layer_step);
	// 0 or 1: every layer past FirstDenseLayers.
	MoEStep int
}

// QuantConfig is a checkpoint's (or the user's) weight quantization.
type QuantConfig struct {
	Method    string // "awq", "gptq", "fp8", "compressed-tensors", "bitsandbytes"
	Bits      int    // 4, 8
	GroupSize int    // -1 or 0 for per-channel
	ZeroPoint bool   // asymmetric (awq zero_point, gptq sym=false)
	// SkipModules are the checkpoint's unquantized modules
	// (modules_to_not_convert / ignore / llm_int8_skip_modules): exact
	// names, dotted suffixes, globs with * or "re:" regular expressions.
	SkipModules []string
	// DoubleQuant is bitsandbytes' bnb_4bit_use_double_quant.
	DoubleQuant bool
	// Float marks floating-point weights (fp8, mxfp4) as opposed to integer
	// ones; it disambiguates compressed-tensors schemes.
	Float bool
}

// Quantization names accepted by FitInput.Quantization.
var Quantizations = []string{"none", "fp32", "fp16", "bf16", "fp8", "int8", "int4", "awq", "gptq", "bitsandbytes"}

// KVCacheDTypes accepted by FitInput.KVCacheDType.
var KVCacheDTypes = []string{"auto", "fp8"}

// Objectives accepted by SizingInput.Objective.
var Objectives = []string{"throughput", "latency"}

// FitInput describes one vLLM engine (one replica).
type FitInput struct {
	Model                Model
	GPU                  GPU
	TensorParallelSize   int     // >=1; must divide the attention heads
	Quantization         string  // one of Quantizations; "" or "none" = the checkpoint's dtype
	KVCacheDType         string  // "auto" (the model dtype) or "fp8"
	MaxModelLen          int     // 0 = the model's MaxPositionEmbeddings
	GPUMemoryUtilization float64 // (0,1]; vLLM's default is 0.9
	MaxNumBatchedTokens  int     // chunked-prefill budget per step; 0 = vLLM's default
	MaxNumSeqs           int     // 0 = vLLM's default (256)
	BlockSize            int     // KV block size in tokens; 0 = 16
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
	WeightsGiB        float64 // per GPU
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
	Instance *InstanceType
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

// InputError is bad input. Attribute names the Terraform attribute.
type InputError struct {
	Attribute string
	Message   string
}

func (e *InputError) Error() string { return fmt.Sprintf("%s: %s", e.Attribute, e.Message) }
