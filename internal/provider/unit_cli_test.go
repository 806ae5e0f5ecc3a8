package provider

import (
	"os"
	"testing"
)

// unitTestCLI skips a resource.UnitTest (data sources only, no remote
// system) when no Terraform CLI is named: the testing framework would
// otherwise try to download one. make test sets TF_ACC_TERRAFORM_PATH.
func unitTestCLI(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		t.Skip("needs a Terraform CLI: set TF_ACC_TERRAFORM_PATH (make test sets it to bin/terraform)")
	}
}
