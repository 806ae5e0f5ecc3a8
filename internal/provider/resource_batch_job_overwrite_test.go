package provider

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// planWarnings wraps the provider to keep the warnings of its plans, which
// the testing framework does not expose.
type planWarnings struct {
	tfprotov6.ProviderServer
	mu  sync.Mutex
	got []string
}

func (w *planWarnings) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	resp, err := w.ProviderServer.PlanResourceChange(ctx, req)
	if resp != nil {
		w.mu.Lock()
		for _, d := range resp.Diagnostics {
			if d.Severity == tfprotov6.DiagnosticSeverityWarning {
				w.got = append(w.got, d.Summary+": "+d.Detail)
			}
		}
		w.mu.Unlock()
	}
	return resp, err
}

func (w *planWarnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	got := w.got
	w.got = nil
	return got
}

// The plan says when an apply with resume = false deletes committed output:
// the pieces of an earlier run in a local output path, with the rows its
// _SUCCESS manifest counts, and nothing when resume = true or the path is
// empty.
func TestBatchJob_planWarnsOfOverwrite(t *testing.T) {
	t.Parallel()
	unitPreCheck(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	for _, d := range []string{out, out + ".errors"} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"out/part-aa.jsonl", "out/part-bb.jsonl", "out.errors/part-bb.jsonl", "out/.part-cc.jsonl.tmp-1"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("{}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	manifest := `{"committed_before": 5, "metrics": {"rows": 30, "failed_rows": 1}, "pieces": ["part-aa.jsonl", "part-bb.jsonl"]}`
	if err := os.WriteFile(filepath.Join(out, "_SUCCESS"), []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	w := &planWarnings{}
	factories := map[string]func() (tfprotov6.ProviderServer, error){
		"rayvllm": func() (tfprotov6.ProviderServer, error) {
			s, err := providerserver.NewProtocol6WithError(New("test")())()
			w.ProviderServer = s
			return w, err
		},
	}
	job := func(output, resume string) string {
		return `
resource "rayvllm_batch_job" "x" {
  vllm = {
    model_source = "Qwen/Qwen2.5-0.5B-Instruct"
    input        = { path = "/in.jsonl", prompt_column = "p" }
    output       = { path = "` + output + `" }
    sampling     = { max_tokens = 16 }
` + resume + `
  }
}
`
	}
	for _, tc := range []struct {
		output, resume string
		want           []string
	}{
		{out, "", []string{"Apply will delete committed output", "vllm.output.path " + out + " holds 3 committed pieces holding 36 rows",
			"Set vllm.resume = true to keep it"}},
		{out, "resume = true", nil},
		{filepath.Join(dir, "new"), "", nil},
		{"s3://bucket/out", "", []string{"Committed output not checked", "s3://bucket/out is not on this machine"}},
	} {
		resource.UnitTest(t, resource.TestCase{
			ProtoV6ProviderFactories: factories,
			Steps:                    []resource.TestStep{{Config: job(tc.output, tc.resume), PlanOnly: true, ExpectNonEmptyPlan: true}},
		})
		got := strings.Join(w.take(), "\n")
		for _, s := range tc.want {
			if !strings.Contains(got, s) {
				t.Errorf("%s %s: plan warnings %q\nlack %q", tc.output, tc.resume, got, s)
			}
		}
		if tc.want == nil && got != "" {
			t.Errorf("%s %s: want no warning, got %q", tc.output, tc.resume, got)
		}
	}
}
