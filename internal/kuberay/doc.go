// Package kuberay is rayvllm's Kubernetes backend: it renders a KubeRay
// RayCluster (and the Secret that holds its Ray token) from a Spec, and
// drives them through the Kubernetes API with client-go: create, read back,
// delete and wait, and a port-forward to the head's dashboard through the
// API server, so that the Ray resources reach a cluster without a public
// endpoint. It has no Terraform imports; the provider maps its schema onto
// Spec and Config.
package kuberay
