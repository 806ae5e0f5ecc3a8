//go:build tools

// Package kube pins the Kubernetes control plane that internal/kubebox runs,
// and kubectl, which its tests use as an independent client;
// .ci/kube.sh builds the commands from this module.
package kube

import (
	_ "k8s.io/kubectl/pkg/cmd"
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
)
