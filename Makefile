# Longbow's front door. Every target installs what it needs first (npm packages, the
# Python virtual environment), so a fresh clone needs only `make run` or `make test`.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
# npm's node@24 package puts Node 24 in node_modules/.bin; everything runs under it.
export PATH := $(ROOT)/node_modules/.bin:$(ROOT)/.venv/bin:$(PATH)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
LONGBOW_DATASETS ?= $(abspath $(ROOT)/../shared/datasets)
export LONGBOW_DATASETS

.PHONY: help setup minio strace mutation-check test-power-loss run test bench-persistence bench-cluster bench-filter test-unit test-pyarrow test-cluster test-operator e2e-operator chart-lint manifests images kind-up kind-e2e kind-down lint typecheck bench clean

help:
	@echo "make run     start one node with local storage in ./data (ports 3000/3001/9090)"
	@echo "make test    every test: typecheck, lint, unit and integration, pyarrow suite, cluster processes"
	@echo "make bench   the glove100 benchmark (not run by CI)"

## setup: npm packages (with the approved install scripts) and the Python venv.
setup: node_modules/.longbow-installed $(VENV)/.longbow-installed

# `npm install` with the committed lock rather than `npm ci`: the registry reachable here
# lacks some other-platform optional packages (e.g. @biomejs/cli-darwin-*), which `npm ci`
# treats as a lock mismatch while `npm install` skips them, as optional packages should be.
# node-gyp builds hnswlib-node against local Node headers (scripts/node-headers.sh), never
# downloaded ones.
node_modules/.longbow-installed: package.json package-lock.json $(wildcard packages/*/package.json) $(wildcard operator/package.json)
	nodedir="$$(scripts/node-headers.sh)"; \
	  if [[ -n "$$nodedir" ]]; then export npm_config_nodedir="$$nodedir"; fi; \
	  npm install --no-audit --no-fund
	@touch $@

$(VENV)/.longbow-installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

run: setup
	mkdir -p data snapshots
	LONGBOW_DATA_PATH=$${LONGBOW_DATA_PATH:-./data} LONGBOW_SNAPSHOT_PATH=$${LONGBOW_SNAPSHOT_PATH:-./snapshots} \
	  npx longbow serve

typecheck: setup
	npm run typecheck

lint: setup
	npm run lint

## minio: the S3-compatible server the snapshot tests use, built from the Go module proxy
## on first use (about 2.5 minutes) and cached in ~/.cache/longbow/minio-<version>.
minio:
	packages/server/test/s3/setup-minio.sh >/dev/null

## strace: the real-fsync test watches the node's fdatasync calls with it (Debian package).
strace:
	@command -v strace >/dev/null || (apt-get update -qq && apt-get install -y -qq strace)

test-unit: setup minio strace
	npm test

test-pyarrow: setup
	$(PY) -m pytest -q packages/server/test/pyarrow

# Multi-process cluster tests (e2e/cluster, ~25 s): three `longbow serve` processes with
# gossip on loopback in both routing modes, SIGKILL and restart; the partition test puts
# nodes in network namespaces, so it needs root and `ip` (iproute2).
test-cluster: setup
	@command -v ip >/dev/null || (apt-get update -qq && apt-get install -y -qq iproute2)  # netns tests
	node --test --test-reporter=spec --test-concurrency=1 e2e/cluster/routing.e2e.ts e2e/cluster/failover.e2e.ts e2e/cluster/netns.e2e.ts packages/cluster/e2e/netns.e2e.ts

test: typecheck lint test-unit test-pyarrow test-cluster test-operator e2e-operator mutation-check

## The long crash-and-power-loss loop (1,000 power cuts on a simulated disk; about 2 minutes).
## `make test` runs 60 of them (packages/server/test/commit/power-loss.test.ts).
test-power-loss: setup
	node packages/server/test/stress/power-loss.ts $${CYCLES:-1000} $${SEED:-1}

## The mutation check: each mutant in scripts/mutation-check.ts breaks one promise (the fsync
## before the ack, replay, a metric, last-writer-wins…) in a scratch copy; its tests must fail.
mutation-check: setup strace
	node scripts/mutation-check.ts

bench: setup
	$(PY) packages/server/bench/glove100.py

## The other benchmarks: snapshots and restart (glove100), the gossip simulation/ring, and
## the proxy hop's cost between three processes on loopback.
bench-persistence: setup
	$(PY) packages/server/bench/persistence.py

bench-cluster: setup
	npm run bench -w packages/cluster
	node e2e/cluster/bench/proxy-overhead.bench.ts

## Filters: evaluation of the row set (in-process, 331,479 rows), then filtered k-NN on
## glove100 through pyarrow (recall@10 within the filter, QPS, latency).
bench-filter: setup
	node packages/server/bench/filter.bench.ts
	$(PY) packages/server/bench/filtered.py

clean:
	rm -rf node_modules $(VENV) data snapshots .bench

## Operator (issue 5): unit tests of the pure core, then every scenario against a real
## control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok built
## from the Go module proxy on first use and cached in ~/.cache/longbow/k8s-v<version>).
test-operator: setup
	node --test --test-reporter=spec "operator/test/**/*.test.ts"

e2e-operator: setup
	node e2e/operator/run.ts

## helm lint + helm template | kubeconform -strict (schemas from the live API server).
chart-lint: setup
	node e2e/operator/run.ts charts.test.ts

## Regenerate the CRD, dashboards, alerts and deploy/operator.yaml from their sources.
manifests: setup
	npm run generate -w operator
	"$$(bash e2e/controlplane/build.sh | tail -1)/helm" template longbow-operator charts/longbow-operator \
	  --namespace longbow-system --include-crds > deploy/operator.yaml

## For machines with Docker: images, a kind cluster (kind-config.yaml) and a smoke test.
images:
	docker build -f deploy/docker/server.Dockerfile -t longbow/longbow:0.1.0 .
	docker build -f deploy/docker/operator.Dockerfile -t longbow/longbow-operator:0.1.0 .

kind-up kind-e2e kind-down:
	bash e2e/kind/run.sh $(subst kind-,,$@)
