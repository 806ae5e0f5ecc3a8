// Package kubebox is "Kubernetes in a box" for tests: a real etcd,
// kube-apiserver, kube-scheduler and kube-controller-manager on loopback,
// with KubeRay's CRDs applied from its module and the real KubeRay operator
// running against them. Everything is built from the Go module proxy by
// .ci/kube.sh (see internal/kubebox/build) and found through .tmp/kube.
//
// With Options.Venv, the box has a node: kubebox-node, a virtual-kubelet
// (built from its module) whose container runtime is this package. Each pod
// is a network namespace on the box's bridge (ec2box's namespace helpers),
// each container its command run inside with the venv standing in for the
// image, and /etc/hosts inside is kept in step with the Endpoints, so that
// Service names resolve. Init containers run in turn first; readiness probes
// run in the pod's namespace, and the pod is Ready once they pass. Logs and
// port-forward reach the node through the API server; kubectl, built with
// the control plane, is the tests' independent client (Box.Kubectl).
//
// The box generates its own CA, serving certificate, admin client
// certificate and service-account keys, so nothing outside its work
// directory is read or written; Close stops every process it started and
// removes the directory.
//
// It talks to the API server over plain HTTPS, not through client-go, which
// the code under test (internal/kuberay) uses: the tests' view of the
// cluster shares no client code with it.
package kubebox
