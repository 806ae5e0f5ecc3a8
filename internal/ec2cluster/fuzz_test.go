package ec2cluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRenderUserData renders head and worker user data with hostile values
// (shell metacharacters, quotes, command substitutions, newlines) in every
// field that reaches the scripts, and then:
//   - the script must parse (bash -n);
//   - ParseUserData must give back each value literally;
//   - run as cloud-init would (IMDS, SSM, pip, systemd stubbed on PATH, a
//     "pwned" command that leaves a marker), no injected command may run,
//     and the values must arrive literally where the scripts use them: pip's
//     argv, the SSM parameter name, Ray's --labels and --resources, the
//     environment of `ray start`, the systemd unit.
//
// A value RenderUserData refuses must be refused with an error naming the
// field. Model names and tags never reach user data (they go to the Ray
// Serve config and to EC2 tags), so the free-text fields here are the SSM
// parameter name and an extra environment value; the others are fuzzed
// against RenderUserData's validation.
func FuzzRenderUserData(f *testing.F) {
	for _, s := range []string{"$(pwned)", "`pwned`", "x; pwned", "x' ; pwned ; '", `"$(pwned)"`, "x\npwned", "${IFS}pwned", "a&&pwned", "|pwned", "$((1+1))", "*", `\'`, "x'\"'\"'y"} {
		f.Add("c1", "a10g", "A10G", "/hf/"+s, "pandas==2.2.3", s)
		f.Add(s, "a10g", "A10G", "/hf/token", "pandas==2.2.3", "v")
		f.Add("c1", s, "A10G", "/hf/token", "pandas==2.2.3", "v")
		f.Add("c1", "a10g", s, "/hf/token", "pandas==2.2.3", "v")
		f.Add("c1", "a10g", "A10G", "/hf/token", s, "v")
	}
	f.Add("c1", "a10g", "A10G", "/hf/token", "--index-url=http://evil", "v")
	f.Add("c1", "a,rayvllm.io/x=y", "A10G", "/hf/token", "pandas", "v")
	f.Add("c1", "a10g", `A10G": 1, "CPU`, "/hf/token", "pandas", "v")
	f.Add("c1", "a10g", "A10G", "/hf/token", "pandas", "")
	bin := awsStubs(f)
	pwned := stubs(f, map[string]string{"pwned": `touch "$RAYVLLM_TEST_REC/PWNED"` + "\n"})
	path := pwned + ":" + bin + ":" + os.Getenv("PATH")
	gcsPort, _ := fakeGCSPort(f)

	f.Fuzz(func(t *testing.T, cluster, group, accel, hfParam, pkg, envVal string) {
		b := BootConfig{Cluster: cluster, Region: "us-east-1", RayVersion: "2.60.0", VLLMVersion: "0.29.0",
			PythonPackages: []string{pkg}, RayTokenParameter: "/rayvllm/c1/ray-auth-token", HFTokenParameter: hfParam,
			HeadIP: "127.0.0.1", Group: group, AcceleratorType: accel, ExtraEnvironment: map[string]string{"RAYVLLM_FUZZ_VALUE": envVal}}
		for _, role := range []string{RoleHead, RoleWorker} {
			ud, err := RenderUserData(role, b)
			if err != nil {
				if msg := err.Error(); !strings.HasPrefix(msg, role+" user data: ") || len(msg) < len(role)+20 {
					t.Fatalf("unclear error: %q", msg)
				}
				continue
			}
			env := ParseUserData(ud)
			want := map[string]string{"RAYVLLM_CLUSTER": cluster, "RAYVLLM_HF_TOKEN_PARAMETER": hfParam, "RAYVLLM_PYTHON_PACKAGES": pkg, "RAYVLLM_FUZZ_VALUE": envVal}
			if role == RoleWorker {
				want["RAYVLLM_GROUP"], want["RAYVLLM_ACCELERATOR_TYPE"] = group, accel
			}
			for k, v := range want {
				if env[k] != v {
					t.Fatalf("%s: ParseUserData %s = %q, want %q", role, k, env[k], v)
				}
			}
			dryRun(t, role, ud, path, gcsPort, b)
		}
	})
}

// dryRun runs rendered user data with the stubs, then the installed
// service's `node.sh run`, and checks that nothing was injected and that the
// values arrived literally.
func dryRun(t *testing.T, role, ud, path, gcsPort string, b BootConfig) {
	dir := t.TempDir()
	home, sysd, logs, rec := filepath.Join(dir, "home"), filepath.Join(dir, "systemd"), filepath.Join(dir, "log"), filepath.Join(dir, "rec")
	for _, d := range []string{home, sysd, logs, rec} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	script := filepath.Join(dir, "part-001")
	if err := os.WriteFile(script, []byte(ud), 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("%s: bash -n: %v\n%s", role, err, out)
	}
	env := []string{"PATH=" + path, "HOME=" + dir, "RAYVLLM_TEST_REC=" + rec, "RAYVLLM_HOME=" + home, "RAYVLLM_LOG_DIR=" + logs,
		"RAYVLLM_SYSTEMD_DIR=" + sysd, "RAYVLLM_GCS_PORT=" + gcsPort, "RAYVLLM_HEAD_WAIT_SECONDS=5"}
	run := func(args ...string) string {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %s: %v\n%s", role, args, err, out)
		}
		return string(out)
	}
	out := run(script)
	out += run(filepath.Join(home, "node.sh"), "run")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(rec, name))
		if err != nil {
			t.Fatalf("%s: %v\noutput:\n%s", role, err, out)
		}
		return string(b)
	}
	if _, err := os.Stat(filepath.Join(rec, "PWNED")); err == nil {
		t.Fatalf("%s: an injected command ran\noutput:\n%s", role, out)
	}
	if strings.Contains(read("pip"), "\n"+b.PythonPackages[0]+"\n") == false {
		t.Fatalf("%s: pip was not given %q as one argument:\n%s", role, b.PythonPackages[0], read("pip"))
	}
	if b.HFTokenParameter != "" {
		if got, err := os.ReadFile(filepath.Join(home, "hf_token")); err != nil || string(got) != "secret-for-"+b.HFTokenParameter {
			t.Fatalf("%s: SSM was asked for %q, want %q (%v)", role, strings.TrimPrefix(string(got), "secret-for-"), b.HFTokenParameter, err)
		}
	}
	if got := read("fuzz_value"); got != b.ExtraEnvironment["RAYVLLM_FUZZ_VALUE"] {
		t.Fatalf("%s: ray start saw RAYVLLM_FUZZ_VALUE=%q, want %q", role, got, b.ExtraEnvironment["RAYVLLM_FUZZ_VALUE"])
	}
	unit, err := os.ReadFile(filepath.Join(sysd, "rayvllm-"+role+".service"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "\nDescription=Ray node for rayvllm cluster "+b.Cluster+"\n") || strings.Count(string(unit), "\n") != 18 {
		t.Fatalf("%s: systemd unit was changed by the values:\n%s", role, unit)
	}
	if role == RoleWorker && b.AcceleratorType != "" {
		ray := read("ray")
		for _, want := range []string{"\n--resources={\"accelerator_type:" + b.AcceleratorType + "\": 1}\n",
			"\n--labels=rayvllm.io/accelerator-type=" + b.AcceleratorType + ",rayvllm.io/group=" + b.Group + "\n"} {
			if !strings.Contains(ray, want) {
				t.Fatalf("worker: ray start lacks %q:\n%s", want, ray)
			}
		}
	}
}
