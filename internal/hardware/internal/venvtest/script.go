package venvtest

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

// Python is the test venv's python for a test whose package sits depth
// folders below the repository root (skipping the test without the venv, as
// Skip says).
func Python(t *testing.T, depth int) string {
	t.Helper()
	up := make([]string, 0, depth+3)
	for range depth {
		up = append(up, "..")
	}
	py, err := filepath.Abs(filepath.Join(append(up, ".venv", "bin", "python")...))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(py); err != nil {
		Skip(t, fmt.Sprintf("no test venv at %s (make venv creates it)", py))
	}
	return py
}

// Result is one stdout line of a testdata script: vLLM's view V of a case
// (and transformers' parameter count where the script gives one), or the
// error that stopped it.
type Result[V any] struct {
	Name   string `json:"name"`
	Params int64  `json:"params"`
	VLLM   *V     `json:"vllm"`
	Error  string `json:"error"`
	Trace  string `json:"trace"`
}

// RunScript runs testdata/<script> in python with in as JSON on stdin and
// returns its stdout lines by name.
func RunScript[V any](t *testing.T, py, script string, in any) map[string]Result[V] {
	t.Helper()
	stdin, _ := json.Marshal(in)
	cmd := exec.Command(py, filepath.Join("testdata", script)) // #nosec G204 -- test venv
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", py, err, Tail(stderr.String(), 3000))
	}
	got := map[string]Result[V]{}
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r Result[V]
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Name != "" {
			got[r.Name] = r
		}
	}
	return got
}

// GlobConfigs reads the config.json files matching glob, by file name
// without .json.
func GlobConfigs(t *testing.T, glob string) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no configs match %s: %v", glob, err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f) // #nosec G304 -- test fixtures
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = b
	}
	return out
}

// WriteConfigDir writes b as dir/name/config.json and returns that folder.
func WriteConfigDir(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}
