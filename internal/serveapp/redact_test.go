package serveapp

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func TestRedactHidesEnvVarValues(t *testing.T) {
	const hf, db, wo = "hf_SECRETsecretSECRET0123", "postgres://u:pw-SECRET@db/x", "wo-SECRET-value"
	s := genericSpec()
	s.RuntimeEnv = map[string]any{
		"env_vars": map[string]string{"HF_TOKEN": hf, "DB_URL": db, "API_KEY": wo},
		"pip":      []any{"httpx"},
	}
	s.Deployments[0].UserConfig = map[string]any{"runtime_env": map[string]any{"env_vars": map[string]any{"X": db}}}
	app := Render(s)
	got, err := CanonicalRedacted(app, map[string]bool{"API_KEY": true})
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{hf, db, wo, "SECRET"} {
		if strings.Contains(got, secret) {
			t.Errorf("the redacted view holds %q: %s", secret, got)
		}
	}
	var view map[string]any
	if err := json.Unmarshal([]byte(got), &view); err != nil {
		t.Fatal(err)
	}
	env := view["runtime_env"].(map[string]any)["env_vars"].(map[string]any)
	marker := regexp.MustCompile(`^sha256:[0-9a-f]{12}$`)
	for _, k := range []string{"HF_TOKEN", "DB_URL"} {
		if v, _ := env[k].(string); !marker.MatchString(v) {
			t.Errorf("env_vars.%s = %q, want a sha256:<12 hex> marker", k, v)
		}
	}
	if env["API_KEY"] != WriteOnlyMarker {
		t.Errorf("env_vars.API_KEY = %v, want %q (write-only: not even a hash)", env["API_KEY"], WriteOnlyMarker)
	}
	if env["HF_TOKEN"] == env["DB_URL"] {
		t.Error("two different values got the same marker")
	}
	// The rest of the config is untouched, and nothing is redacted in what
	// goes to Ray.
	if view["runtime_env"].(map[string]any)["pip"].([]any)[0] != "httpx" {
		t.Errorf("pip changed: %s", got)
	}
	sent, _ := CanonicalValue(app)
	if !strings.Contains(sent, hf) || !strings.Contains(sent, wo) {
		t.Errorf("Redact changed the config sent to Ray: %s", sent)
	}
}

func TestRedactShowsDrift(t *testing.T) {
	render := func(token string) string {
		s := vllmSpec()
		s.RuntimeEnv = map[string]any{"env_vars": map[string]any{"HF_TOKEN": token}}
		v, err := CanonicalRedacted(Render(s), nil)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b := render("hf_one"), render("hf_two")
	if a == b {
		t.Fatal("a changed env var value left the redacted view unchanged: drift would not show")
	}
	if a != render("hf_one") {
		t.Fatal("the redacted view is not deterministic")
	}
	// A deployed config read back redacts to the same view as the plan.
	raw, _ := json.Marshal(func() map[string]any {
		s := vllmSpec()
		s.RuntimeEnv = map[string]any{"env_vars": map[string]any{"HF_TOKEN": "hf_one"}}
		return Render(s)
	}())
	live, err := RedactedJSON(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	if live != a {
		t.Errorf("read-back view differs from the planned one:\n%s\n%s", live, a)
	}
}

func TestRedactNonObjectEnvVars(t *testing.T) {
	got, err := CanonicalRedacted(map[string]any{"runtime_env": map[string]any{"env_vars": "TOKEN=SECRET"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, "SECRET") {
		t.Errorf("a non-object env_vars is shown: %s", got)
	}
}

func TestHashMarker(t *testing.T) {
	// sha256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
	if got := HashMarker("abc"); got != "sha256:ba7816bf8f01" {
		t.Errorf("HashMarker(abc) = %s", got)
	}
}
