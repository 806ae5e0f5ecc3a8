package provider

import (
	"embed"
	"path/filepath"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/acctest"
)

// The harnesses of internal/acctest under the names this package's tests
// use. What needs the provider (the factory, configurations, checks of its
// state) stays in this package.

// newAWSEnv makes the moto fixtures of one test (acctest.NewAWS).
func newAWSEnv(t testing.TB) *awsEnv {
	t.Helper()
	a := acctest.NewAWS(t)
	return &awsEnv{c: a.Client, ami: a.AMI, subnet: a.Subnet, profile: a.Profile, hfParam: a.HFParam, hfToken: a.HFToken}
}

// testAccServe is the test Ray head with its Serve port (acctest.NewServe)
// and the Serve fixture app of testdata/serve_fixture.
func testAccServe(t *testing.T) serveEnv {
	t.Helper()
	srv := acctest.NewServe(t)
	dir, err := filepath.Abs(filepath.Join("testdata", "serve_fixture"))
	if err != nil {
		t.Fatal(err)
	}
	return serveEnv{client: srv.Client, port: srv.Port, fixtureDir: dir}
}

// e2eSkip skips with why, or fails when the environment demands e2e runs.
func e2eSkip(t testing.TB, why string) {
	t.Helper()
	acctest.SkipOrFail(t, "end-to-end test: "+why)
}

func repoPath(t testing.TB, rel string) string {
	t.Helper()
	return acctest.RepoPath(t, rel)
}

func freePort(t *testing.T) int { return acctest.FreePort(t) }

func tailLines(s string, n int) string { return acctest.TailLines(s, n) }

// unitPreCheck is acctest.UnitPreCheck: the unit tier (resource.UnitTest)
// needs the terraform CLI and nothing else.
func unitPreCheck(t testing.TB) {
	t.Helper()
	acctest.UnitPreCheck(t)
}

// The Python the tests run (as a Ray job's entrypoint, or with the venv's
// python) lives in testdata/python.
//
//go:embed testdata/python/*.py
var testPythonFS embed.FS

func testPython(name string) string {
	b, err := testPythonFS.ReadFile("testdata/python/" + name)
	if err != nil {
		panic(err) // a file named in the tests is missing: a build error in spirit
	}
	return string(b)
}
