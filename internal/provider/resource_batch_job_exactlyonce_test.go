package provider

// Exactly once for any input, end to end through Terraform and a real Ray
// job on the test Ray head: bad ids refused before any engine starts, ids
// that keep their type through every output format (a resume finds them
// all), and a second writer on a held output refused.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// idHCL is the tiny model's job over an input of any format with an id
// column of any type.
func idHCL(model, in, inFmt, out, outFmt string, resume bool) string {
	return fmt.Sprintf(`
resource "rayvllm_batch_job" "e2e" {
  vllm = {
    model_source          = %q
    accelerator           = "cpu"
    dtype                 = "float32"
    max_model_len         = 512
    kv_cache_memory_bytes = 268435456
    enforce_eager         = true
    batch_size            = 16
    resume                = %t
    input                 = { path = %q, format = %q, id_column = "id", prompt_column = "prompt", apply_chat_template = false }
    output                = { path = %q, format = %q }
    sampling              = { max_tokens = 4, temperature = 0, seed = 0 }
  }
  runtime_env = { env_vars = { HF_HUB_OFFLINE = "1" } }
  timeouts    = { create = "10m" }
}
`, model, resume, in, inFmt, out, outFmt)
}

func TestAccBatchJob_duplicateIds(t *testing.T) {
	py := e2ePreCheck(t)
	model := tinyModel(t, py)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "prompts.jsonl"), filepath.Join(dir, "out")
	var lines []string
	for _, id := range []string{"1", "2", "2", "null", "3", "3", "3"} {
		lines = append(lines, fmt.Sprintf(`{"id": %s, "prompt": "hello"}`, id))
	}
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             batchJobGone(t),
		Steps: []resource.TestStep{{
			Config: idHCL(model, in, "jsonl", out, "jsonl", false),
			ExpectError: regexp.MustCompile(`(?s)ended\s+FAILED.*` + phrase("input.id_column 'id': 1 row(s) have a null id (e.g. prompts.jsonl row 3); "+
				"2 id(s) appear more than once, in 5 rows (e.g. 2 at prompts.jsonl row 1, prompts.jsonl row 2; 3 at")),
		}},
	})
	if parts, _ := filepath.Glob(filepath.Join(out, "part-*")); len(parts) > 0 {
		t.Errorf("a refused input produced output: %v", parts)
	}
}

// pieceIDs reads the id column of every committed piece with pyarrow, the
// type pinned as the input's (typ: "string" or "int64"), as JSON values.
func pieceIDs(py, dir, format, typ string) ([]string, error) {
	script := `
import json, sys, pyarrow as pa, pyarrow.fs
sys.path.insert(0, sys.argv[4])
import rayvllm_pieces as p
fs = pyarrow.fs.LocalFileSystem()
ids = []
for f in sorted(__import__("glob").glob(sys.argv[1] + "/part-*")):
    ids += p.read_piece_ids(fs, f, sys.argv[2], ["id"], getattr(pa, sys.argv[3])()).column("id").to_pylist()
print(json.dumps(ids))
`
	root, err := filepath.Abs("../batchjob")
	if err != nil {
		return nil, err
	}
	b, err := exec.Command(py, "-c", script, dir, format, typ, root).Output()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %v", dir, err)
	}
	var vals []json.RawMessage
	if err := json.Unmarshal(b, &vals); err != nil {
		return nil, err
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = string(v)
	}
	sort.Strings(out)
	return out, nil
}

// TestAccBatchJob_idTypesRoundTrip: the CSV case through Terraform and the
// real engine. The types are the script's business, not the provider's, so
// the other format pairs (JSONL ints past 2^53, Parquet and JSONL strings a
// number parser would merge) are pytest's test_id_types_round_trip, with the
// same two checks on the stand-in engine; each case here costs an engine
// start (about 90 s of CI on 2 cores).
func TestAccBatchJob_idTypesRoundTrip(t *testing.T) {
	py := e2ePreCheck(t)
	model := tinyModel(t, py)
	for _, tc := range []struct {
		name, inFmt, outFmt, typ string
		write                    func(path string) error
		want                     []string // the ids as JSON, sorted
	}{
		{"csvZeroPadded", "csv", "csv", "string", func(p string) error {
			return os.WriteFile(p, []byte("id,prompt\n001,hello\n002,world\n010,again\n"), 0o644)
		}, []string{`"001"`, `"002"`, `"010"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in, out := filepath.Join(dir, "prompts."+tc.inFmt), filepath.Join(dir, "out")
			if err := tc.write(in); err != nil {
				t.Fatal(err)
			}
			sameIDs := func(*terraform.State) error {
				got, err := pieceIDs(py, out, tc.outFmt, tc.typ)
				if err != nil {
					return err
				}
				if strings.Join(got, ",") != strings.Join(tc.want, ",") {
					return fmt.Errorf("output ids %v, want %v (type and value as in the input)", got, tc.want)
				}
				return nil
			}
			n := fmt.Sprint(len(tc.want))
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				CheckDestroy:             batchJobGone(t),
				Steps: []resource.TestStep{
					{
						Config: idHCL(model, in, tc.inFmt, out, tc.outFmt, false),
						Check: resource.ComposeAggregateTestCheckFunc(
							resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "metrics.rows", n), sameIDs),
					},
					{
						// Resume reads the ids back from the output: it must find every one.
						Config: idHCL(model, in, tc.inFmt, out, tc.outFmt, true),
						Check: resource.ComposeAggregateTestCheckFunc(
							resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "metrics.rows", "0"),
							resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "metrics.skipped_rows", n), sameIDs),
					},
				},
			})
		})
	}
}

func TestAccBatchJob_concurrentWriterRefused(t *testing.T) {
	py := e2ePreCheck(t)
	model := tinyModel(t, py)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "prompts.jsonl"), filepath.Join(dir, "out")
	writePrompts(t, in, e2ePrompts(t, 3))
	// The lease of a run that is writing out: this test's own process, on
	// the host the test Ray head's driver runs on.
	host, _ := os.Hostname()
	lease, _ := json.Marshal(map[string]any{"token": "other", "run_key": "other-apply", "host": host, "pid": os.Getpid(),
		"expires": float64(time.Now().Add(10 * time.Minute).Unix())})
	if err := os.WriteFile(out+".lease", lease, 0o644); err != nil {
		t.Fatal(err)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             batchJobGone(t),
		Steps: []resource.TestStep{{
			Config:      idHCL(model, in, "jsonl", out, "jsonl", false),
			ExpectError: regexp.MustCompile(`(?s)ended\s+FAILED.*` + phrase("is being written by another run (host "+host)),
		}},
	})
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the refused run touched the output %s: %v", out, err)
	}
	if b, _ := os.ReadFile(out + ".lease"); string(b) != string(lease) {
		t.Errorf("the refused run changed the other run's lease: %s", b)
	}
}
