// Package acctest holds what the provider's tests share and that needs no
// provider: the pre-checks of the two test tiers, the harnesses for the test
// services (moto, the Ray head and its Serve port, the fault proxy's
// report), and small helpers. The provider factory stays in package provider
// (internal/provider/provider_test.go): the provider's tests are package
// provider, and a package they import cannot import the provider back.
//
// Tiers (docs/guides/contributing.md):
//   - unit: plain Go tests, and resource.UnitTest for configurations that only
//     plan (data sources, functions, invalid configuration); they need the
//     terraform CLI (TF_ACC_TERRAFORM_PATH) and nothing else: UnitPreCheck.
//   - acceptance: resource.Test with TF_ACC=1 and the services of
//     .ci/services.sh: PreCheck(t, NeedRay, ...).
package acctest
