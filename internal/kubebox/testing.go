package kubebox

import (
	"os"
	"path/filepath"
	"testing"
)

// DefaultDir is where .ci/kube.sh links the build, relative to this package.
var DefaultDir = filepath.Join("..", "..", ".tmp", "kube")

// New starts a box for the test and closes it when the test ends, also when
// it fails. It skips the test when the box is not built (make kube), or
// fails it when RAYVLLM_REQUIRE_KUBE is set (make test-kube): make test
// does not build the box yet.
func New(t testing.TB, opts Options) *Box {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = os.Getenv("RAYVLLM_KUBE_DIR")
	}
	if opts.Dir == "" {
		opts.Dir = DefaultDir
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, ".sha256")); err != nil {
		Unavailable(t, "Kubernetes in a box is not built in "+opts.Dir+" (run .ci/kube.sh, or make test-kube)")
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

// Unavailable skips the test for why, or fails it when RAYVLLM_REQUIRE_KUBE
// is set.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if s := os.Getenv("RAYVLLM_REQUIRE_KUBE"); s != "" && s != "0" && s != "false" {
		t.Fatalf("kubebox cannot run: %s (RAYVLLM_REQUIRE_KUBE=%s)", why, s)
	}
	t.Skip("kubebox: " + why)
}

// NewNode starts a box with a node whose pods run with the checkout's test
// venv (.venv, two levels above the test's package) standing in for the
// image; see New.
func NewNode(t testing.TB, opts Options) *Box {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "the node needs root for network namespaces")
	}
	venv, err := filepath.Abs(filepath.Join("..", "..", ".venv"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(venv, "bin", "ray")); err != nil {
		Unavailable(t, "no test venv with Ray (make venv): "+err.Error())
	}
	opts.Venv = venv
	return New(t, opts)
}
