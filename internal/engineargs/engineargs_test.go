package engineargs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The committed table is what the generator prints from the venv's vLLM:
// a vLLM upgrade that adds, drops or retypes an engine argument fails here
// until the table is regenerated (the command is in the failure).
func TestTableMatchesVenv(t *testing.T) {
	py, err := filepath.Abs(filepath.Join("..", "..", ".venv", "bin", "python"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(py); err != nil {
		t.Skipf("no project venv at %s (make venv creates it; CI has it): %v", py, err)
	}
	cmd := exec.Command(py, filepath.Join("testdata", "gen_engine_args.py")) //nolint:gosec // G204: the project's own venv and script
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("generator: %v\n%s", err, stderr.String())
	}
	if !bytes.Equal(got, tableJSON) {
		t.Errorf("vllm_engine_args.json differs from the venv's vLLM EngineArgs; regenerate it: " +
			".venv/bin/python internal/engineargs/testdata/gen_engine_args.py > internal/engineargs/vllm_engine_args.json")
	}
}

func TestCheckValue(t *testing.T) {
	for _, tc := range []struct {
		name, json, want string
	}{
		{"enforce_eager", `true`, ""},
		{"enforce_eager", `"yes"`, "must be a boolean, got a string"},
		{"max_loras", `2`, ""},
		{"max_loras", `2.5`, "must be an integer, got a number"},
		{"cpu_offload_gb", `4`, ""},
		{"cpu_offload_gb", `4.5`, ""},
		{"enable_prefix_caching", `null`, ""},
		{"enforce_eager", `null`, "must not be null"},
		{"compilation_config", `{"level": 0}`, ""},
		{"compilation_config", `[1]`, "must be an object, got a list"},
		{"kv_cache_dtype", `"fp8"`, ""},
		{"kv_cache_dtype", `"fp4"`, "must be one of auto,"},
		{"hf_token", `1`, "must be a boolean or a string or null, got an integer"},
	} {
		a, ok := Lookup(tc.name)
		if !ok {
			t.Fatalf("%s is not in the table", tc.name)
		}
		m, err := Parse(`{"v": ` + tc.json + `}`)
		if err != nil {
			t.Fatal(err)
		}
		got := a.CheckValue(m["v"])
		if (tc.want == "") != (got == "") || !bytes.Contains([]byte(got), []byte(tc.want)) {
			t.Errorf("%s = %s: got %q, want %q", tc.name, tc.json, got, tc.want)
		}
	}
	if _, ok := Lookup("enforce_eagre"); ok {
		t.Error("a misspelt argument is in the table")
	}
	if _, err := Parse(`[1]`); err == nil {
		t.Error("a JSON list parsed as an object")
	}
}
