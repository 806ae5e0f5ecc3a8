package provider

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/batchjob"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/serveapp"
)

// The worker and the batch job run one fit check: the same engine settings
// give the same findings. Before, the job skipped Ray's accelerator names
// (A100-40G, plain A100) as "not in the GPU catalog".
func TestFitCheckSameForJobAndWorker(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	s := func(v string) *string { return &v }
	for name, tc := range map[string]struct {
		accel, model, quant string
		maxLen, seqs        int64
		want                string // in the first diagnostic's summary
		errors              int
	}{
		"ray name A100-40G":         {"A100-40G", "meta-llama/Llama-3.1-70B-Instruct", "", 8192, 8, "does not fit on A100-40GB", 1},
		"ray name A100, both parts": {"A100", "meta-llama/Llama-3.1-70B-Instruct", "fp8", 4096, 4, "fits A100-80GB but not A100-40GB", 0},
		"catalog name L4":           {"L4", "meta-llama/Llama-3.1-70B-Instruct", "", 8192, 8, "does not fit on L4", 1},
		"KV cache warning":          {"A10G", "Qwen/Qwen2.5-7B-Instruct", "", 32768, 256, "KV cache holds under half of max_num_seqs", 0},
		"not modelled":              {"L4", "Qwen/Qwen2.5-7B-Instruct", "experts_int8", 4096, 4, "GPU fit not checked", 0},
		"not quantized that way":    {"L4", "Qwen/Qwen2.5-7B-Instruct", "awq", 4096, 4, "Invalid", 1},
	} {
		t.Run(name, func(t *testing.T) {
			var job, worker diag.Diagnostics
			c := batchjob.Config{ModelSource: tc.model, AcceleratorType: tc.accel, EngineKwargs: batchjob.Engine{MaxModelLen: i(tc.maxLen), MaxNumSeqs: i(tc.seqs)}}
			if tc.quant != "" {
				c.EngineKwargs.Quantization = s(tc.quant)
			}
			checkFit(c, &job)
			(&vllmWorkerResource{}).fitCheck(&worker, &vllmWorkerModel{RequireFit: types.BoolNull()}, &serveapp.LLM{ModelID: "m", ModelSource: tc.model, AcceleratorType: tc.accel,
				Engine: serveapp.Engine{Quantization: tc.quant, MaxModelLen: tc.maxLen, MaxNumSeqs: tc.seqs}})
			for who, d := range map[string]diag.Diagnostics{"job": job, "worker": worker} {
				if len(d) == 0 || !strings.Contains(d[0].Summary(), tc.want) || d.ErrorsCount() != tc.errors {
					t.Errorf("%s: want %d error(s) and %q first, got %v", who, tc.errors, tc.want, d)
				}
			}
			if len(job) != len(worker) {
				t.Fatalf("job and worker disagree:\njob    %v\nworker %v", job, worker)
			}
			for k := range job {
				if strings.TrimPrefix(job[k].Summary(), "Invalid vllm.") != strings.TrimPrefix(worker[k].Summary(), "Invalid ") {
					t.Errorf("job %q, worker %q", job[k].Summary(), worker[k].Summary())
				}
			}
		})
	}
}

// The misfit message keeps its hint: each caller passes its own instead of
// cutting the data source's.
func TestMisfitHint(t *testing.T) {
	var job, worker diag.Diagnostics
	maxLen := int64(8192)
	checkFit(batchjob.Config{ModelSource: "meta-llama/Llama-3.1-70B", AcceleratorType: "L4", EngineKwargs: batchjob.Engine{MaxModelLen: &maxLen}}, &job)
	(&vllmWorkerResource{}).fitCheck(&worker, &vllmWorkerModel{RequireFit: types.BoolNull()}, &serveapp.LLM{ModelID: "m", ModelSource: "meta-llama/Llama-3.1-70B", AcceleratorType: "L4", Engine: serveapp.Engine{MaxModelLen: maxLen}})
	if d := job.Errors()[0].Detail(); !strings.HasSuffix(d, "Change the vllm block (quantization, tensor_parallel_size, max_model_len) or accelerator_type.") || strings.Contains(d, "require_fit") {
		t.Errorf("job: %s", d)
	}
	if d := worker.Errors()[0].Detail(); !strings.HasSuffix(d, requireFitHint) {
		t.Errorf("worker: %s", d)
	}
}

// The job and the worker build their engines in different vLLM usage
// contexts: Ray Data LLM with none (2048/128), Ray Serve LLM as the OpenAI
// server (2048/256 on an L4). With the knobs unset, Llama-3.1-8B at
// max_model_len 34816 starts on an L4 as a batch job but not as a worker
// (the larger sampler profile leaves less than one request's KV cache:
// about 33500 tokens against 36000 at vLLM 0.29).
func TestFitCheckEngineContext(t *testing.T) {
	const model = "meta-llama/Llama-3.1-8B-Instruct"
	mml := int64(34816)
	var job, worker diag.Diagnostics
	checkFit(batchjob.Config{ModelSource: model, AcceleratorType: "L4", EngineKwargs: batchjob.Engine{MaxModelLen: &mml}}, &job)
	(&vllmWorkerResource{}).fitCheck(&worker, &vllmWorkerModel{RequireFit: types.BoolNull()}, &serveapp.LLM{ModelID: "m", ModelSource: model, AcceleratorType: "L4",
		Engine: serveapp.Engine{MaxModelLen: mml}})
	if job.HasError() {
		t.Errorf("batch job: %v", job)
	}
	if !worker.HasError() || !strings.Contains(worker.Errors()[0].Summary(), "does not fit on L4") {
		t.Errorf("worker: want a misfit, got %v", worker)
	}
}

// engine_kwargs_json's cpu_offload_gb and block_size feed the fit check in
// every place: Llama-3.1-8B in BF16 (15 GiB of weights) fits a 16 GB T4
// only with weights offloaded to CPU memory.
func TestFitCheckReadsEngineKwargs(t *testing.T) {
	const model = "meta-llama/Llama-3.1-8B-Instruct"
	mml := int64(4096)
	check := func(jobExtra, workerExtra map[string]any) (job, worker diag.Diagnostics) {
		checkFit(batchjob.Config{ModelSource: model, AcceleratorType: "T4", EngineKwargs: batchjob.Engine{MaxModelLen: &mml, Extra: jobExtra}}, &job)
		(&vllmWorkerResource{}).fitCheck(&worker, &vllmWorkerModel{RequireFit: types.BoolNull()}, &serveapp.LLM{ModelID: "m", ModelSource: model, AcceleratorType: "T4",
			Engine: serveapp.Engine{MaxModelLen: mml, Extra: workerExtra}})
		return job, worker
	}
	job, worker := check(nil, nil)
	if !job.HasError() || !worker.HasError() || !strings.Contains(job.Errors()[0].Summary(), "does not fit on T4") {
		t.Fatalf("without offload: want a misfit in both, got job %v, worker %v", job, worker)
	}
	// The job parses engine_kwargs_json with json.Number, the worker with float64.
	if job, worker = check(map[string]any{"cpu_offload_gb": json.Number("8")}, map[string]any{"cpu_offload_gb": 8.0}); job.HasError() || worker.HasError() {
		t.Fatalf("cpu_offload_gb 8: want a fit in both, got job %v, worker %v", job, worker)
	}
	job, worker = check(map[string]any{"cpu_offload_gb": json.Number("-1")}, map[string]any{"cpu_offload_gb": -1.0})
	if !job.HasError() || job.Errors()[0].Summary() != "Invalid vllm.engine_kwargs_json" || !strings.Contains(job.Errors()[0].Detail(), "must be >= 0") ||
		!worker.HasError() || worker.Errors()[0].Summary() != "Invalid engine_kwargs_json" {
		t.Fatalf("cpu_offload_gb -1: want an error on engine_kwargs_json, got job %v, worker %v", job, worker)
	}
	job, _ = check(map[string]any{"block_size": json.Number("7"), "cpu_offload_gb": json.Number("8")}, nil)
	if !job.HasError() || job.Errors()[0].Summary() != "Invalid vllm.engine_kwargs_json" || !strings.Contains(job.Errors()[0].Detail(), "valid: 1, 8, 16") {
		t.Fatalf("block_size 7: want an error on engine_kwargs_json, got %v", job)
	}

	// The data sources and the cluster's fit_check read the attribute.
	s := nullEngineSettings()
	s.EngineKwargsJSON = jsontypes.NewNormalizedValue(`{"cpu_offload_gb": 8, "block_size": 32}`)
	var in hardware.FitInput
	if attr := s.fitInput(&in); attr != "" || in.CPUOffloadGiB != 8 || in.BlockSize != 32 {
		t.Fatalf("fitInput: unmodelled %q, cpu_offload_gb %g, block_size %d; want 8 and 32", attr, in.CPUOffloadGiB, in.BlockSize)
	}
}
