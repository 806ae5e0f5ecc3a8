#!/usr/bin/env bash
# Builds "Kubernetes in a box" (internal/kubebox) from the Go module proxy:
# kube-apiserver, kube-scheduler, kube-controller-manager, etcd and the KubeRay
# operator, plus KubeRay's CRDs from its module, kubebox-node (a
# virtual-kubelet whose runtime is the test harness) and kubectl (the tests'
# independent client). No binary is downloaded.
#
# The versions are pinned by the build modules in internal/kubebox/build/*
# (checked against internal/versions/versions.json by kubebox's tests). A
# build takes many minutes, so it is done once per hash of those modules
# under $RAYVLLM_KUBE_CACHE (default ~/.cache/rayvllm) and .tmp/kube is a
# symlink to it, as .ci/venv.sh does for the venv.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=internal/kubebox/build
want=$(cat .ci/kube.sh "$build"/*/go.mod "$build"/*/go.sum "$build"/*/*.go | sha256sum | cut -d' ' -f1)
cache=${RAYVLLM_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rayvllm}
dir=$cache/kube-${want:0:16}
link() { mkdir -p .tmp && rm -rf .tmp/kube && ln -s "$dir" .tmp/kube; }
if [ "$(cat "$dir/.sha256" 2>/dev/null)" = "$want" ]; then
  touch "$dir"; link; exit 0
fi
mkdir -p "$cache"
exec 9>"$dir.lock"
flock 9 # another checkout may be building the same key
if [ "$(cat "$dir/.sha256" 2>/dev/null)" != "$want" ]; then
  start=$(date +%s)
  k8s=$(sed -nE 's/^(require[[:space:]]+|[[:space:]]+)k8s\.io\/kubernetes v([^[:space:]]+)$/\2/p' "$build/kube/go.mod")
  minor=${k8s#*.}; minor=${minor%%.*}
  ldflags="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags="$ldflags -X $p.gitVersion=v$k8s -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  tmp=$dir.tmp
  rm -rf "$tmp" && mkdir -p "$tmp/bin" "$tmp/crds"
  echo "kube: building Kubernetes v$k8s, etcd and KubeRay into $dir (tens of minutes on 2 cores)"
  (cd "$build/kube" && go build -mod=readonly -trimpath -ldflags "$ldflags" -o "$tmp/bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kubectl)
  echo "kube: control plane built after $(( $(date +%s) - start ))s"
  (cd "$build/etcd" && go build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmp/bin/etcd" .)
  (cd "$build/kuberay" && go build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmp/bin/kuberay-operator" github.com/ray-project/kuberay/ray-operator &&
    cp "$(go list -mod=readonly -m -f '{{.Dir}}' github.com/ray-project/kuberay/ray-operator)"/config/crd/bases/*.yaml "$tmp/crds/")
  (cd "$build/node" && go build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmp/bin/kubebox-node" .)
  chmod -R u+w "$tmp/crds"
  echo "$want" > "$tmp/.sha256"
  rm -rf "$dir" && mv "$tmp" "$dir"
  echo "kube: built in $(( $(date +%s) - start ))s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
fi
touch "$dir"
# Keys unused for a week are left over from older pins.
find "$cache" -maxdepth 1 -name 'kube-*' ! -name "kube-${want:0:16}*" -mtime +7 -exec rm -rf {} + 2>/dev/null || true
cd "$root" && link
