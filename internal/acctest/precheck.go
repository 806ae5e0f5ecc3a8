package acctest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Need is a service an acceptance test needs besides TF_ACC=1.
type Need int

const (
	NeedRay    Need = iota // the Ray head of .ci/services.sh: RAY_ADDRESS, RAY_AUTH_TOKEN
	NeedServe              // its Serve proxy port: RAYVLLM_TEST_SERVE_PORT
	NeedMoto               // moto's EC2 and SSM: AWS_ENDPOINT_URL_EC2
	NeedMirror             // the provider in the local mirror of make install: TF_ACC_TERRAFORM_PATH, TF_CLI_CONFIG_FILE
)

const startServices = "start the services with .ci/services.sh start and source .tmp/services.env (make test does both)"

// PreCheck is the one pre-check of the acceptance tests: it skips a test when
// TF_ACC is not set or a service it needs is not there.
func PreCheck(t testing.TB, needs ...Need) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (make test does)")
	}
	for _, n := range needs {
		switch n {
		case NeedRay:
			if os.Getenv("RAY_ADDRESS") == "" {
				t.Skip("RAY_ADDRESS is not set: " + startServices)
			}
		case NeedServe:
			if os.Getenv("RAYVLLM_TEST_SERVE_PORT") == "" {
				t.Skip("RAYVLLM_TEST_SERVE_PORT is not set: " + startServices)
			}
		case NeedMoto:
			if os.Getenv("AWS_ENDPOINT_URL_EC2") == "" {
				t.Skip("AWS_ENDPOINT_URL_EC2 is not set: " + startServices)
			}
		case NeedMirror:
			rc := os.Getenv("TF_CLI_CONFIG_FILE")
			if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" || rc == "" {
				t.Skip("TF_ACC_TERRAFORM_PATH and TF_CLI_CONFIG_FILE must point at bin/terraform and the mirror config of make install")
			}
			if _, err := os.Stat(rc); err != nil {
				t.Skipf("TF_CLI_CONFIG_FILE %s: %v (run make install)", rc, err)
			}
		}
	}
}

// UnitPreCheck is the pre-check of resource.UnitTest cases: they run without
// TF_ACC and without services, but drive the terraform CLI. Without one,
// terraform-plugin-testing would try to download Terraform, so the test is
// skipped instead (make unit and make test set TF_ACC_TERRAFORM_PATH to
// bin/terraform; make terraform builds it).
func UnitPreCheck(t testing.TB) {
	t.Helper()
	if p := os.Getenv("TF_ACC_TERRAFORM_PATH"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("TF_ACC_TERRAFORM_PATH=%s: %v (make terraform builds bin/terraform)", p, err)
		}
		return
	}
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("needs the terraform CLI: set TF_ACC_TERRAFORM_PATH (make unit and make test point it at bin/terraform)")
	}
}

// SkipOrFail skips with why, or fails where CI demands the test
// (RAYVLLM_REQUIRE_E2E=1, which .ci/run sets, or CI): a skipped end-to-end or
// venv-backed test is then a failure.
func SkipOrFail(t testing.TB, why string) {
	t.Helper()
	for _, v := range []string{"RAYVLLM_REQUIRE_E2E", "CI"} {
		if s := os.Getenv(v); s != "" && s != "0" && s != "false" {
			t.Fatalf("cannot run: %s (%s=%s: this test may not be skipped)", why, v, s)
		}
	}
	t.Skip("skipped: " + why)
}

// RepoPath is rel under the repository root (the folder with go.mod above
// the test's working directory).
func RepoPath(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, rel)
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", dir)
		}
	}
}
