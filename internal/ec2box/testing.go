package ec2box

import (
	"os"
	"path/filepath"
	"testing"
)

// New starts a box for the test and closes it (every host, namespace and
// link) when the test ends, also when it fails. It skips the test when moto
// (RAYVLLM_TEST_MOTO_URL, from .ci/services.sh) or root is missing, and fails
// it instead when RAYVLLM_REQUIRE_E2E or CI is set. venv is the test venv
// baked into the default image.
func New(t testing.TB, venv string, opts Options) *Box {
	t.Helper()
	if opts.MotoURL == "" {
		opts.MotoURL = os.Getenv("RAYVLLM_TEST_MOTO_URL")
	}
	why := ""
	switch {
	case opts.MotoURL == "":
		why = "RAYVLLM_TEST_MOTO_URL is not set: start moto with .ci/services.sh start and source .tmp/services.env"
	case os.Geteuid() != 0:
		why = "ec2box needs root for network namespaces"
	}
	if why == "" && venv != "" {
		if _, err := os.Stat(filepath.Join(venv, "bin", "ray")); err != nil {
			why = "no Ray in the test venv " + venv + " (run .ci/venv.sh)"
		}
	}
	if why != "" {
		for _, v := range []string{"RAYVLLM_REQUIRE_E2E", "CI"} {
			if s := os.Getenv(v); s != "" && s != "0" && s != "false" {
				t.Fatalf("ec2box cannot run: %s (%s=%s)", why, v, s)
			}
		}
		t.Skip("ec2box: " + why)
	}
	if opts.DefaultImage.Venv == "" {
		opts.DefaultImage.Venv = venv
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
			t.Errorf("ec2box: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("ec2box: cleanup: %v", err)
		}
	})
	return b
}
