package kubebox

import (
	"os"
	"path/filepath"
	"testing"
)

// DefaultDir is where .ci/kube.sh links the build, relative to this package.
var DefaultDir = filepath.Join("..", "..", ".tmp", "kube")

// New starts a box for the test and closes it when the test ends, also when
// it fails. It skips the test when the box is not built (make kube), and
// fails it instead when RAYVLLM_REQUIRE_E2E or CI is set.
func New(t testing.TB, opts Options) *Box {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = os.Getenv("RAYVLLM_KUBE_DIR")
	}
	if opts.Dir == "" {
		opts.Dir = DefaultDir
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, ".sha256")); err != nil {
		why := "Kubernetes in a box is not built in " + opts.Dir + " (run .ci/kube.sh, or make test-kube)"
		for _, v := range []string{"RAYVLLM_REQUIRE_E2E", "CI"} {
			if s := os.Getenv(v); s != "" && s != "0" && s != "false" {
				t.Fatalf("kubebox cannot run: %s (%s=%s)", why, v, s)
			}
		}
		t.Skip("kubebox: " + why)
	}
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	b, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Err(); err != nil {
			t.Errorf("kubebox: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("kubebox: cleanup: %v", err)
		}
	})
	return b
}
