package provider

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
)

// testAccProtoV6ProviderFactories runs the provider in-process for the
// acceptance tests, which drive the real Terraform CLI (TF_ACC=1).
var testAccProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"rayvllm": providerserver.NewProtocol6WithError(New("test")()),
}

// testAccNeed is a service an acceptance test needs besides TF_ACC=1.
type testAccNeed int

const (
	needRay    testAccNeed = iota // the Ray head of .ci/services.sh: RAY_ADDRESS, RAY_AUTH_TOKEN
	needServe                     // its Serve proxy port: RAYVLLM_TEST_SERVE_PORT
	needMoto                      // moto's EC2 and SSM: AWS_ENDPOINT_URL_EC2
	needMirror                    // the provider in the local mirror of make install: TF_ACC_TERRAFORM_PATH, TF_CLI_CONFIG_FILE
)

// testAccPreCheck is the one pre-check of the acceptance tests: it skips a
// test when TF_ACC is not set or a service it needs is not there.
func testAccPreCheck(t testing.TB, needs ...testAccNeed) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (make test does)")
	}
	const start = "start the services with .ci/services.sh start and source .tmp/services.env (make test does both)"
	for _, n := range needs {
		switch n {
		case needRay:
			if os.Getenv("RAY_ADDRESS") == "" {
				t.Skip("RAY_ADDRESS is not set: " + start)
			}
		case needServe:
			if os.Getenv("RAYVLLM_TEST_SERVE_PORT") == "" {
				t.Skip("RAYVLLM_TEST_SERVE_PORT is not set: " + start)
			}
		case needMoto:
			if os.Getenv("AWS_ENDPOINT_URL_EC2") == "" {
				t.Skip("AWS_ENDPOINT_URL_EC2 is not set: " + start)
			}
		case needMirror:
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

func TestProviderSchemaIsValid(t *testing.T) {
	p := New("test")()
	resp := &provider.SchemaResponse{}
	p.Schema(context.Background(), provider.SchemaRequest{}, resp)
	if resp.Diagnostics.HasError() {
		t.Fatal(resp.Diagnostics)
	}
	if diags := resp.Schema.ValidateImplementation(context.Background()); diags.HasError() {
		t.Fatal(diags)
	}
}

// between checks a float state value against a hand-derived range.
func between(lo, hi float64) knownvalue.Check {
	return knownvalue.Float64Func(func(v float64) error {
		if v < lo || v > hi {
			return fmt.Errorf("%v is outside the expected range [%v, %v]", v, lo, hi)
		}
		return nil
	})
}

func int64Between(lo, hi int64) knownvalue.Check {
	return knownvalue.Int64Func(func(v int64) error {
		if v < lo || v > hi {
			return fmt.Errorf("%v is outside the expected range [%v, %v]", v, lo, hi)
		}
		return nil
	})
}
