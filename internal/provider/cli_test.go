package provider

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-version"
)

// The acceptance tests run on Terraform (bin/terraform, 1.8.5: the oldest
// supported) and, for a subset, on OpenTofu (bin/tofu): whatever
// TF_ACC_TERRAFORM_PATH names (make test runs both lanes).

// accCLIInfo is that CLI: "Terraform" or "OpenTofu", and its version.
type accCLIInfo struct {
	Name    string
	Version *version.Version
	Path    string
}

func (c accCLIInfo) String() string { return fmt.Sprintf("%s v%s", c.Name, c.Version) }

var (
	accCLIOnce sync.Once
	accCLIVal  accCLIInfo
	accCLIErr  error
)

// accCLI asks the CLI of TF_ACC_TERRAFORM_PATH for its version, once.
func accCLI() (accCLIInfo, error) {
	accCLIOnce.Do(func() {
		path := os.Getenv("TF_ACC_TERRAFORM_PATH")
		if path == "" {
			accCLIErr = fmt.Errorf("TF_ACC_TERRAFORM_PATH is not set")
			return
		}
		// An empty CLI config: a missing one puts a warning on stdout.
		env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+os.DevNull)
		cmd := exec.Command(path, "version", "-json") // #nosec G204 -- the test's own CLI
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			accCLIErr = fmt.Errorf("%s version -json: %w", path, err)
			return
		}
		// OpenTofu keeps Terraform's key for compatibility.
		var v struct {
			Version string `json:"terraform_version"`
		}
		if err := json.Unmarshal(out, &v); err != nil {
			accCLIErr = fmt.Errorf("%s version -json: %w", path, err)
			return
		}
		ver, err := version.NewVersion(v.Version)
		if err != nil {
			accCLIErr = err
			return
		}
		name := "Terraform"
		cmd = exec.Command(path, "version") // #nosec G204
		cmd.Env = env
		if human, err := cmd.Output(); err == nil && strings.HasPrefix(string(human), "OpenTofu") {
			name = "OpenTofu"
		}
		accCLIVal = accCLIInfo{Name: name, Version: ver, Path: path}
	})
	return accCLIVal, accCLIErr
}

// accReport appends a line to RAYVLLM_ACC_REPORT, the file make test prints
// after each lane (go test shows a passing package's output only with -v).
func accReport(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	fmt.Println(line)
	path := os.Getenv("RAYVLLM_ACC_REPORT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600) // #nosec G304 -- set by the Makefile
	if err != nil {
		return
	}
	defer func() { _ = f.Close() }()
	_, _ = fmt.Fprintln(f, line)
}

// reportAccCLI names the CLI of an acceptance run (called by TestMain).
func reportAccCLI() {
	if os.Getenv("TF_ACC") == "" || os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		return
	}
	if cli, err := accCLI(); err != nil {
		accReport("internal/provider: acceptance CLI unusable: %v", err)
	} else {
		accReport("internal/provider: acceptance tests run on %s (%s)", cli, cli.Path)
	}
}

// needCLI skips a test whose configuration needs a newer CLI than the one
// it runs on, with the reason printed in the make test output. terraformMin
// and tofuMin are the first releases with the feature.
func needCLI(t *testing.T, feature, terraformMin, tofuMin string) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1")
	}
	cli, err := accCLI()
	if err != nil {
		t.Fatal(err)
	}
	minimum := terraformMin
	if cli.Name == "OpenTofu" {
		minimum = tofuMin
	}
	if cli.Version.LessThan(version.Must(version.NewVersion(minimum))) {
		reason := fmt.Sprintf("%s needs %s >= %s; this lane runs %s (the OpenTofu lane of make test runs it)", feature, cli.Name, minimum, cli)
		accReport("  SKIP %s: %s", t.Name(), reason)
		t.Skip(reason)
	}
}
