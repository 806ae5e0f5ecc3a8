// Package venvtest holds what the tests that run the test venv's Python
// (transformers and vLLM as oracles) share. It is for tests only.
package venvtest

import (
	"os"
	"testing"
)

// Skip skips, or fails where CI demands the venv-backed tests
// (.ci/run sets RAYVLLM_REQUIRE_E2E=1).
func Skip(t *testing.T, why string) {
	t.Helper()
	for _, v := range []string{"RAYVLLM_REQUIRE_E2E", "CI"} {
		if s := os.Getenv(v); s != "" && s != "0" && s != "false" {
			t.Fatalf("cannot run: %s (%s=%s: a skipped differential test is a failure)", why, v, s)
		}
	}
	t.Skip(why)
}

// Tail is the last n bytes of s (a failed run's stderr).
func Tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
