package provider

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/acctest"
)

// testAccProtoV6ProviderFactories runs the provider in-process for the
// acceptance tests, which drive the real Terraform CLI (TF_ACC=1).
var testAccProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"rayvllm": providerserver.NewProtocol6WithError(New("test")()),
}

// The pre-check's needs, by their short names in this package
// (internal/acctest holds the pre-check).
const (
	needRay    = acctest.NeedRay
	needServe  = acctest.NeedServe
	needMoto   = acctest.NeedMoto
	needMirror = acctest.NeedMirror
)

// testAccPreCheck is acctest.PreCheck: it skips a test when TF_ACC is not set
// or a service it needs is not there.
func testAccPreCheck(t testing.TB, needs ...acctest.Need) {
	t.Helper()
	acctest.PreCheck(t, needs...)
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
