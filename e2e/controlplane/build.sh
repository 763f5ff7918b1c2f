#!/usr/bin/env bash
# Builds the Kubernetes control plane the operator tests run against — kube-apiserver,
# kube-controller-manager, kube-scheduler, etcd and kwok (fake nodes whose pods "run") —
# plus helm and kubeconform, from source through the Go module proxy.
#
# Why from source: this machine reaches only package registries, so the usual release
# tarballs (and setup-envtest) are out of reach; the Go module proxy has every module.
# `go install` refuses k8s.io/kubernetes because its go.mod replaces the k8s.io/* staging
# modules with ./staging paths that the module zip does not contain, so we copy the module,
# point each replace at the published staging module of the same version, and build there.
# etcd's main lives in go.etcd.io/etcd/server/v3, which also carries replaces; a two-line
# wrapper module that calls etcdmain.Main sidesteps them.
#
# Binaries land in ${LONGBOW_K8S_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/longbow/k8s-v<version>}
# and are reused when present; the script prints the directory on its last line.
set -euo pipefail

K8S_VERSION=1.36.3
ETCD_VERSION=3.6.8
KWOK_VERSION=0.8.0
HELM_VERSION=3.22.0
KUBECONFORM_VERSION=0.8.0

BIN_DIR="${LONGBOW_K8S_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/longbow/k8s-v${K8S_VERSION}}"
mkdir -p "$BIN_DIR"
export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0
NICE=(nice -n 10)

need() { for b in "$@"; do [[ -e "$BIN_DIR/$b" ]] || return 0; done; return 1; }
log() { echo "[controlplane/build] $(date +%H:%M:%S) $*" >&2; }
start=$SECONDS

if need kube-apiserver kube-controller-manager kube-scheduler; then
  log "building kube-apiserver, kube-controller-manager, kube-scheduler v${K8S_VERSION}"
  src=$(go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cp -r "$src/." "$work/k8s"
  chmod -R u+w "$work/k8s"
  cd "$work/k8s"
  rm -rf vendor go.work go.work.sum
  # Every `k8s.io/x => ./staging/src/k8s.io/x` becomes `k8s.io/x => k8s.io/x v0.<minor>.<patch>`,
  # except modules that were never published (the sample CLI plugin), which we drop.
  staging_version="v0.${K8S_VERSION#1.}"
  for mod in $(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' go.mod); do
    if [[ "$mod" == k8s.io/sample-cli-plugin ]]; then
      go mod edit -dropreplace="$mod" -droprequire="$mod"
    else
      go mod edit -replace="$mod=$mod@$staging_version"
    fi
  done
  "${NICE[@]}" go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${K8S_VERSION#1.}" \
    -o "$BIN_DIR/" ./cmd/kube-apiserver ./cmd/kube-controller-manager ./cmd/kube-scheduler
  cd /
  rm -rf "$work"
  trap - EXIT
fi

if need etcd; then
  log "building etcd v${ETCD_VERSION}"
  work=$(mktemp -d)
  cat > "$work/go.mod" <<GOMOD
module longbow.dev/etcd-wrapper

go 1.24

require go.etcd.io/etcd/server/v3 v${ETCD_VERSION}
GOMOD
  cat > "$work/main.go" <<'GOMAIN'
// Command etcd runs etcd's own entry point; the wrapper exists only because the etcd
// server module's replace directives keep `go install` from building it directly.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GOMAIN
  (cd "$work" && go mod tidy >/dev/null && "${NICE[@]}" go build -trimpath -ldflags "-s -w" -o "$BIN_DIR/etcd" .)
  rm -rf "$work"
fi

# kwok deletes a terminating pod by name only; when the StatefulSet controller has already
# recreated a pod of the same name, a late delete kills the new pod, which no kubelet does.
# We build kwok with a UID precondition on that delete (one line), marked by kwok.uid-safe.
if need kwok kwok.uid-safe; then
  log "building kwok v${KWOK_VERSION} (UID-safe pod deletion)"
  src=$(go mod download -json "sigs.k8s.io/kwok@v${KWOK_VERSION}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  work=$(mktemp -d)
  cp -r "$src/." "$work/kwok"
  chmod -R u+w "$work/kwok"
  file="$work/kwok/pkg/kwok/controllers/pod_controller.go"
  sed -i 's|Pods(pod.Namespace).Delete(ctx, pod.Name, deleteOpt)|Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: deleteOpt.GracePeriodSeconds, Preconditions: metav1.NewUIDPreconditions(string(pod.UID))})|' "$file"
  grep -q NewUIDPreconditions "$file" || { echo "kwok patch did not apply" >&2; exit 1; }
  (cd "$work/kwok" && "${NICE[@]}" go build -trimpath -ldflags "-s -w" -o "$BIN_DIR/kwok" ./cmd/kwok)
  touch "$BIN_DIR/kwok.uid-safe"
  rm -rf "$work"
fi

if need helm; then
  log "building helm v${HELM_VERSION}"
  GOBIN="$BIN_DIR" "${NICE[@]}" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v${HELM_VERSION}" "helm.sh/helm/v3/cmd/helm@v${HELM_VERSION}"
fi

if need kubeconform; then
  log "building kubeconform v${KUBECONFORM_VERSION}"
  GOBIN="$BIN_DIR" "${NICE[@]}" go install -trimpath -ldflags "-s -w" "github.com/yannh/kubeconform/cmd/kubeconform@v${KUBECONFORM_VERSION}"
fi

log "binaries ready in $BIN_DIR ($((SECONDS - start)) s)"
echo "$BIN_DIR"
