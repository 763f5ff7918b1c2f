#!/usr/bin/env bash
# Longbow on kind, for machines with Docker (this project's CI machine has none; see
# docs/operator.md for what runs where).
#   bash e2e/kind/run.sh up     kind cluster from kind-config.yaml, storage classes nvme/hdd,
#                               images built and loaded, operator chart, sample cluster
#   bash e2e/kind/run.sh e2e    up, then wait until the LongbowCluster reports Ready 3/3 and
#                               answer a /readyz probe through the metrics Service
#   bash e2e/kind/run.sh down   delete the kind cluster
set -euo pipefail
cd "$(dirname "$0")/../.."

CLUSTER=longbow
NS=longbow-system
for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "e2e/kind: $tool is required" >&2; exit 2; }
done

up() {
  kind get clusters | grep -qx "$CLUSTER" || kind create cluster --config kind-config.yaml
  # kind ships the local-path provisioner; give it the two classes the sample asks for.
  for class in nvme hdd; do
    kubectl apply -f - <<YAML
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: { name: $class }
provisioner: rancher.io/local-path
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
YAML
  done
  make images
  kind load docker-image --name "$CLUSTER" longbow/longbow:0.1.0 longbow/longbow-operator:0.1.0
  helm upgrade --install longbow-operator charts/longbow-operator --namespace "$NS" --create-namespace --wait
  kubectl apply -f deploy/samples/longbowcluster.yaml
}

e2e() {
  up
  for _ in $(seq 1 120); do
    ready=$(kubectl get longbowcluster vectors -o jsonpath='{.status.ready}' 2>/dev/null || true)
    phase=$(kubectl get longbowcluster vectors -o jsonpath='{.status.phase}' 2>/dev/null || true)
    echo "vectors: ready=${ready:-?} phase=${phase:-?}"
    [[ "$ready" == "3/3" && "$phase" == "Running" ]] && break
    sleep 5
  done
  [[ "$ready" == "3/3" ]] || { kubectl describe longbowcluster vectors; exit 1; }
  kubectl get longbowcluster,statefulset,pvc,svc -o wide
  kubectl run probe --rm -i --restart=Never --image=busybox:1.36 -- \
    wget -qO- http://vectors-metrics.default.svc:9090/readyz
}

down() { kind delete cluster --name "$CLUSTER"; }

case "${1:-}" in
  up) up ;;
  e2e) e2e ;;
  down) down ;;
  *) echo "usage: $0 up|e2e|down" >&2; exit 2 ;;
esac
