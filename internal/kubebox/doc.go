// Package kubebox is "Kubernetes in a box" for tests: a real etcd,
// kube-apiserver, kube-scheduler and kube-controller-manager on loopback,
// with KubeRay's CRDs applied from its module and the real KubeRay operator
// running against them. Everything is built from the Go module proxy by
// .ci/kube.sh (see internal/kubebox/build) and found through .tmp/kube.
//
// The box generates its own CA, serving certificate, admin client
// certificate and service-account keys, so nothing outside its work
// directory is read or written; Close stops every process it started and
// removes the directory.
//
// It talks to the API server over plain HTTPS (no client-go), so that the
// provider's module does not take on Kubernetes' dependency tree.
package kubebox
