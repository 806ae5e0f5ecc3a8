package ec2cluster

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/versions"
)

var (
	//go:embed scripts/common.sh
	commonScript string
	//go:embed scripts/head.sh
	headScript string
	//go:embed scripts/worker.sh
	workerScript string
	//go:embed scripts/rayvllm_autoscaler.py
	autoscalerModule string
)

// autoscalerModuleEOF ends the here-document that carries the module.
const autoscalerModuleEOF = "RAYVLLM_AUTOSCALER_PY"

// MaxUserDataBytes is EC2's limit on raw (pre-base64) user data.
const MaxUserDataBytes = 16 * 1024

// BootConfig is what a node's bootstrap script needs. It holds SSM parameter
// names, never secrets.
type BootConfig struct {
	Cluster           string
	Region            string
	RayVersion        string // "" installs the tested set's (internal/versions)
	VLLMVersion       string // "" installs the tested set's (internal/versions)
	PythonPackages    []string
	RayTokenParameter string
	HFTokenParameter  string
	HeadIP            string // workers only
	Group             string // workers only
	AcceleratorType   string // workers only, Ray's accelerator_type name
	NodeType          string // autoscaled workers only: the autoscaler's node type
	NumCPUs           int    // autoscaled workers only: the node type's CPUs
	// AutoscalerConfig is the head's autoscaler config as one line of JSON
	// (RenderAutoscalerConfig); "" = no autoscaler.
	AutoscalerConfig string
	ExtraEnvironment map[string]string
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
		if b.NodeType != "" {
			env["RAYVLLM_NODE_TYPE"] = b.NodeType
			env["RAYVLLM_NUM_CPUS"] = strconv.Itoa(b.NumCPUs)
		}
	}
	if role == RoleHead && b.AutoscalerConfig != "" {
		env["RAYVLLM_AUTOSCALER_CONFIG"] = b.AutoscalerConfig
	}
	for k, v := range b.ExtraEnvironment {
		env[k] = v
	}
	return env
}

var (
	nodeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,62}$`)
	wordRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$`)
	regionRE   = regexp.MustCompile(`^[a-z0-9-]{0,32}$`)
	// SSM parameter names only reach the scripts as quoted arguments, so any
	// printable text is inert there (and SSM itself refuses bad names).
	ssmParamRE  = regexp.MustCompile(`^[^\x00-\x1f\x7f]*$`)
	envKeyRE    = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
	nodeTypeRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,80}$`)
	controlChar = regexp.MustCompile(`[\x00-\x1f\x7f]`)
)

// validate refuses values that would change the meaning of the scripts,
// although every value is single-quoted in the user data: the scripts put
// them into a systemd unit (a newline or a space in the region adds
// directives or environment), into Ray's --labels and --resources (a comma
// adds labels) and, split on spaces, into pip's argv (a leading "-" is an
// option). The provider's validators refuse all of these at plan time; this
// is the last line.
func (b BootConfig) validate(role string) error {
	type check struct {
		field, value string
		re           *regexp.Regexp
		optional     bool
		want         string
	}
	checks := []check{
		{"cluster name", b.Cluster, nodeNameRE, false, "1-63 letters, digits and hyphens"},
		{"region", b.Region, regionRE, true, "an AWS region like us-east-1"},
		{"Ray version", b.RayVersion, wordRE, false, "a version like 2.60.0"},
		{"vLLM version", b.VLLMVersion, wordRE, true, "a version like 0.29.0"},
		{"Ray token parameter", b.RayTokenParameter, ssmParamRE, true, "an SSM parameter name"},
		{"HF token parameter", b.HFTokenParameter, ssmParamRE, true, "an SSM parameter name"},
	}
	if role == RoleWorker {
		checks = append(checks,
			check{"worker group name", b.Group, nodeNameRE, false, "1-63 letters, digits and hyphens"},
			check{"accelerator type", b.AcceleratorType, wordRE, true, "a Ray accelerator type like A10G"},
			check{"node type", b.NodeType, nodeTypeRE, true, "a node type name like a10g.on-demand"})
		if b.NodeType != "" && b.NumCPUs < 1 {
			return fmt.Errorf("worker user data: node type %s needs its CPU count, got %d", b.NodeType, b.NumCPUs)
		}
		if net.ParseIP(b.HeadIP) == nil && b.HeadIP != HeadIPPlaceholder {
			return fmt.Errorf("worker user data: head IP %q is not an IP address", b.HeadIP)
		}
	}
	for _, c := range checks {
		if (c.optional && c.value == "") || c.re.MatchString(c.value) {
			continue
		}
		return fmt.Errorf("%s user data: %s %q is not valid; want %s", role, c.field, c.value, c.want)
	}
	if controlChar.MatchString(b.AutoscalerConfig) {
		return fmt.Errorf("%s user data: the autoscaler config must be one line of JSON", role)
	}
	for _, p := range b.PythonPackages {
		if p == "" || strings.HasPrefix(p, "-") || strings.ContainsAny(p, " \t") || controlChar.MatchString(p) {
			return fmt.Errorf("%s user data: python package %q must be one pip requirement, without spaces or a leading \"-\"", role, p)
		}
	}
	for k, v := range b.ExtraEnvironment {
		if !envKeyRE.MatchString(k) {
			return fmt.Errorf("%s user data: environment variable name %q must be upper-case letters, digits and underscores", role, k)
		}
		if controlChar.MatchString(v) {
			return fmt.Errorf("%s user data: environment variable %s has a control character (newline, tab...) in its value %q", role, k, v)
		}
	}
	return nil
}

// RenderUserData returns the cloud-init user data (a shell script) of a head
// or worker node: the configuration as exported variables, then common.sh,
// then the role's script.
func RenderUserData(role string, b BootConfig) (string, error) {
	if role != RoleHead && role != RoleWorker {
		return "", fmt.Errorf("user data: unknown role %q", role)
	}
	if b.RayVersion == "" {
		b.RayVersion = versions.Tested.Ray
	}
	if b.VLLMVersion == "" {
		b.VLLMVersion = versions.Tested.VLLM
	}
	if err := b.validate(role); err != nil {
		return "", err
	}
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
	if role == RoleHead && b.AutoscalerConfig != "" {
		// The node provider module for Ray's autoscaler, written out by
		// head.sh (write_autoscaler_config).
		sb.WriteString("rayvllm_autoscaler_module() {\n  cat <<'" + autoscalerModuleEOF + "'\n" + autoscalerModule + autoscalerModuleEOF + "\n}\n")
	}
	sb.WriteString(stripShebang(commonScript))
	sb.WriteString(stripSourceCommon(stripShebang(script)))
	out := sb.String()
	if len(out) > MaxUserDataBytes {
		// cloud-init runs gzip-compressed user data ("User-data formats":
		// compressed content); the head's carries the autoscaler config,
		// whose worker user data repeats these scripts, which gzip folds.
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write([]byte(out))
		_ = zw.Close()
		if buf.Len() > MaxUserDataBytes {
			return "", &UserDataTooLargeError{Role: role, Bytes: buf.Len()}
		}
		out = buf.String()
	}
	return out, nil
}

// UserDataTooLargeError: a node's user data is over EC2's limit even
// gzip-compressed.
type UserDataTooLargeError struct {
	Role  string
	Bytes int
}

func (e *UserDataTooLargeError) Error() string {
	return fmt.Sprintf("%s user data is %d bytes gzip-compressed, over EC2's %d-byte limit: shorten python_packages or use fewer autoscaled groups", e.Role, e.Bytes, MaxUserDataBytes)
}

// CheckUserDataSize renders the head's and each fixed group's user data as
// apply will, with what only apply knows (the security group, the head's
// IP, the vCPUs EC2 reports) replaced by values at least as long, so that a
// plan refuses what apply would. It returns only a *UserDataTooLargeError:
// other problems are apply's to report.
func CheckUserDataSize(spec Spec) error {
	var tooLarge *UserDataTooLargeError
	only := func(err error) error {
		if errors.As(err, &tooLarge) {
			return err
		}
		return nil
	}
	spec.Groups = slices.Clone(spec.Groups) // the stand-ins stay out of the caller's groups
	for i := range spec.Groups {
		if spec.Groups[i].CPUs == 0 {
			spec.Groups[i].CPUs = 999
		}
	}
	b := spec.Boot
	if spec.Autoscaled() {
		cfg, err := RenderAutoscalerConfig(spec, "sg-0123456789abcdef0", nil)
		if err != nil {
			return only(err)
		}
		b.AutoscalerConfig = string(cfg)
	}
	if _, err := RenderUserData(RoleHead, b); err != nil {
		return only(err)
	}
	for _, g := range spec.Groups {
		if g.Autoscale == nil {
			w := spec.Boot
			w.HeadIP, w.Group, w.AcceleratorType = "255.255.255.255", g.Name, g.AcceleratorType
			if w.AcceleratorType == "" {
				w.AcceleratorType = "AMD-Instinct-MI300X-OAM"
			}
			if _, err := RenderUserData(RoleWorker, w); err != nil {
				return only(err)
			}
		}
	}
	return nil
}

// DecompressUserData returns user data as a script, gunzipped when
// RenderUserData compressed it.
func DecompressUserData(userData string) string {
	if !strings.HasPrefix(userData, "\x1f\x8b") {
		return userData
	}
	zr, err := gzip.NewReader(strings.NewReader(userData))
	if err != nil {
		return userData
	}
	out, err := io.ReadAll(io.LimitReader(zr, 1<<20))
	if err != nil {
		return userData
	}
	return string(out)
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
	for _, line := range strings.Split(DecompressUserData(userData), "\n") {
		if m := exportLine.FindStringSubmatch(line); m != nil {
			out[m[1]] = strings.ReplaceAll(m[2], `'\''`, "'")
		}
	}
	return out
}

// ParseBootConfig reads back the BootConfig RenderUserData wrote (used by
// import). Variables that are not BootConfig fields go to ExtraEnvironment.
func ParseBootConfig(userData string) BootConfig {
	env := ParseUserData(userData)
	take := func(k string) string {
		v := env[k]
		delete(env, k)
		return v
	}
	for _, k := range []string{"RAYVLLM_MODE", "RAYVLLM_ROLE"} {
		delete(env, k)
	}
	b := BootConfig{
		Cluster: take("RAYVLLM_CLUSTER"), Region: take("RAYVLLM_REGION"),
		RayVersion: take("RAYVLLM_RAY_VERSION"), VLLMVersion: take("RAYVLLM_VLLM_VERSION"),
		PythonPackages:    strings.Fields(take("RAYVLLM_PYTHON_PACKAGES")),
		RayTokenParameter: take("RAYVLLM_RAY_TOKEN_PARAMETER"), HFTokenParameter: take("RAYVLLM_HF_TOKEN_PARAMETER"),
		HeadIP: take("RAYVLLM_HEAD_IP"), Group: take("RAYVLLM_GROUP"), AcceleratorType: take("RAYVLLM_ACCELERATOR_TYPE"),
		NodeType: take("RAYVLLM_NODE_TYPE"), AutoscalerConfig: take("RAYVLLM_AUTOSCALER_CONFIG"),
	}
	if n := take("RAYVLLM_NUM_CPUS"); b.NodeType != "" {
		b.NumCPUs, _ = strconv.Atoi(n)
	} else if n != "" {
		env["RAYVLLM_NUM_CPUS"] = n
	}
	if len(env) > 0 {
		b.ExtraEnvironment = env
	}
	return b
}
