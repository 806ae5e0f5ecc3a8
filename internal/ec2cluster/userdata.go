package ec2cluster

import (
	_ "embed"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

var (
	//go:embed scripts/common.sh
	commonScript string
	//go:embed scripts/head.sh
	headScript string
	//go:embed scripts/worker.sh
	workerScript string
)

// MaxUserDataBytes is EC2's limit on raw (pre-base64) user data.
const MaxUserDataBytes = 16 * 1024

// BootConfig is what a node's bootstrap script needs. It holds SSM parameter
// names, never secrets.
type BootConfig struct {
	Cluster           string
	Region            string
	RayVersion        string
	VLLMVersion       string
	PythonPackages    []string
	RayTokenParameter string
	HFTokenParameter  string
	HeadIP            string // workers only
	Group             string // workers only
	AcceleratorType   string // workers only, Ray's accelerator_type name
	ExtraEnvironment  map[string]string
}

func (b BootConfig) env(role string) map[string]string {
	env := map[string]string{
		"RAYVLLM_MODE":                "aws",
		"RAYVLLM_ROLE":                role,
		"RAYVLLM_CLUSTER":             b.Cluster,
		"RAYVLLM_REGION":              b.Region,
		"RAYVLLM_RAY_VERSION":         b.RayVersion,
		"RAYVLLM_VLLM_VERSION":        b.VLLMVersion,
		"RAYVLLM_PYTHON_PACKAGES":     strings.Join(b.PythonPackages, " "),
		"RAYVLLM_RAY_TOKEN_PARAMETER": b.RayTokenParameter,
		"RAYVLLM_HF_TOKEN_PARAMETER":  b.HFTokenParameter,
	}
	if role == RoleWorker {
		env["RAYVLLM_HEAD_IP"] = b.HeadIP
		env["RAYVLLM_GROUP"] = b.Group
		env["RAYVLLM_ACCELERATOR_TYPE"] = b.AcceleratorType
	}
	for k, v := range b.ExtraEnvironment {
		env[k] = v
	}
	return env
}

// RenderUserData returns the cloud-init user data (a shell script) of a head
// or worker node: the configuration as exported variables, then common.sh,
// then the role's script.
func RenderUserData(role string, b BootConfig) (string, error) {
	script := headScript
	if role == RoleWorker {
		script = workerScript
	}
	var sb strings.Builder
	sb.WriteString("#!/usr/bin/env bash\n# rayvllm " + role + " bootstrap, rendered by terraform-provider-rayvllm.\n")
	sb.WriteString("# Log: /var/log/rayvllm/bootstrap.log (setup), /var/log/rayvllm/ray.log (Ray).\n")
	env := b.env(role)
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&sb, "export %s=%s\n", k, shellQuote(env[k]))
	}
	sb.WriteString(stripShebang(commonScript))
	sb.WriteString(stripSourceCommon(stripShebang(script)))
	out := sb.String()
	if len(out) > MaxUserDataBytes {
		return "", fmt.Errorf("%s user data is %d bytes, over EC2's %d-byte limit: shorten python_packages", role, len(out), MaxUserDataBytes)
	}
	return out, nil
}

func stripShebang(s string) string {
	if strings.HasPrefix(s, "#!") {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			return s[i+1:]
		}
	}
	return s
}

// stripSourceCommon drops the block that sources common.sh from disk: in
// user data common.sh is inlined.
func stripSourceCommon(s string) string {
	const marker = "# rayvllm:source-common"
	i := strings.Index(s, marker)
	if i < 0 {
		return s
	}
	j := strings.Index(s[i:], "\nfi\n")
	if j < 0 {
		return s
	}
	return s[:i] + s[i+j+len("\nfi\n"):]
}

// shellQuote single-quotes s for bash.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var exportLine = regexp.MustCompile(`^export (RAYVLLM_[A-Z_]+)='(.*)'$`)

// ParseUserData reads back the configuration RenderUserData wrote (used by
// import). Values containing quotes are read as written.
func ParseUserData(userData string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(userData, "\n") {
		if m := exportLine.FindStringSubmatch(line); m != nil {
			out[m[1]] = strings.ReplaceAll(m[2], `'\''`, "'")
		}
	}
	return out
}
