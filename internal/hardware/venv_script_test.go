package hardware

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// globConfigs reads the config.json files matching glob, by file name
// without .json.
func globConfigs(t *testing.T, glob string) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no configs match %s: %v", glob, err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = b
	}
	return out
}

// venvResult is one stdout line of a testdata script: vLLM's view V of a
// case (and transformers' parameter count where the script gives one), or
// the error that stopped it.
type venvResult[V any] struct {
	Name   string `json:"name"`
	Params int64  `json:"params"`
	VLLM   *V     `json:"vllm"`
	Error  string `json:"error"`
	Trace  string `json:"trace"`
}

// runVenvScript runs testdata/<script> in the test venv's Python with in as
// JSON on stdin and returns its stdout lines by name (skipping the test
// without the venv, as venvSkip says).
func runVenvScript[V any](t *testing.T, script string, in any) map[string]venvResult[V] {
	t.Helper()
	py, err := filepath.Abs(filepath.Join("..", "..", ".venv", "bin", "python"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(py); err != nil {
		venvSkip(t, fmt.Sprintf("no test venv at %s (make venv creates it)", py))
	}
	stdin, _ := json.Marshal(in)
	cmd := exec.Command(py, filepath.Join("testdata", script)) // #nosec G204 -- test venv
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", py, err, tailString(stderr.String(), 3000))
	}
	got := map[string]venvResult[V]{}
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r venvResult[V]
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Name != "" {
			got[r.Name] = r
		}
	}
	return got
}

// writeConfigDir writes b as dir/name/config.json and returns that folder.
func writeConfigDir(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}
