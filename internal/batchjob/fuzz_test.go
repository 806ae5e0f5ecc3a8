package batchjob

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzEntrypoint: the built-in mode's job command carries the model name,
// accelerator type and paths as JSON in one single-quoted shell word, and
// Ray runs it with /bin/sh. With hostile values (quotes, $(...), backticks,
// newlines) the command must parse (sh -n), run with python stubbed on PATH
// without running an injected "pwned" command, hand python the JSON as one
// argument that decodes to the same values, and read back with
// ParseEntrypoint (import).
func FuzzEntrypoint(f *testing.F) {
	for _, s := range []string{"Qwen/Qwen2.5-0.5B", "$(pwned)", "`pwned`", "x'; pwned; '", `x"'"'"; pwned`, "a\npwned", "${IFS}pwned", "'", `\`, "%s %d"} {
		f.Add(s, "A10G", "/data/in.jsonl", "/out")
		f.Add("m", s, "/data/in.jsonl", s)
	}
	dir := f.TempDir()
	for name, body := range map[string]string{
		"python": "#!/bin/sh\n[ \"$1 $2 $3\" = \"-m rayvllm_batch --config-json\" ] && [ $# = 4 ] && printf '%s' \"$4\" > \"$REC.arg\"\n",
		"pwned":  "#!/bin/sh\ntouch \"$REC.PWNED\"\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, model, accel, in, out string) {
		for _, v := range []string{model, accel, in, out} {
			if !utf8.ValidString(v) {
				t.Skip("Terraform strings are UTF-8; JSON would replace the bytes")
			}
		}
		c := Config{ModelSource: model, AcceleratorType: accel, Input: Input{Path: in, Format: "jsonl", PromptColumn: "p"}, Output: Output{Path: out, Format: "jsonl"}}
		ep, err := Entrypoint(c)
		if err != nil {
			t.Fatalf("Entrypoint: %v", err)
		}
		r := filepath.Join(t.TempDir(), "rec")
		if out, err := exec.Command("sh", "-n", "-c", ep).CombinedOutput(); err != nil {
			t.Fatalf("sh -n: %v\n%s\n%s", err, out, ep)
		}
		cmd := exec.Command("sh", "-c", ep)
		cmd.Env = []string{"PATH=" + dir + ":/usr/bin:/bin", "REC=" + r}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sh -c: %v\n%s\n%s", err, out, ep)
		}
		if _, err := os.Stat(r + ".PWNED"); err == nil {
			t.Fatalf("an injected command ran: %s", ep)
		}
		arg, err := os.ReadFile(r + ".arg")
		if err != nil {
			t.Fatalf("python was not run with --config-json: %v\n%s", err, ep)
		}
		var got Config
		if err := json.Unmarshal(arg, &got); err != nil || got.ModelSource != model || got.AcceleratorType != accel || got.Input.Path != in || got.Output.Path != out {
			t.Fatalf("python got %s (%v), want the values literally", arg, err)
		}
		back, ok := ParseEntrypoint(ep)
		if !ok || back.ModelSource != model || back.AcceleratorType != accel || back.Input.Path != in || back.Output.Path != out {
			t.Fatalf("ParseEntrypoint(%q) = %+v, %v", ep, back, ok)
		}
	})
}
