#!/usr/bin/env bash
# Builds MinIO (a real S3-compatible server) from the Go module proxy and caches the binary
# outside the repository. Prints the binary's path on stdout; everything else goes to stderr.
#
#   packages/server/test/s3/setup-minio.sh          # build once, then reuse the cache
#
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/longbow/minio-<version>/minio. The first build takes
# minutes (measured in docs/persistence.md); later calls return at once. Needs `go` on PATH.
# Tests start the binary on loopback themselves (test/s3/minio.ts, test/pyarrow/s3util.py).
set -euo pipefail

# Pinned: the module has no semver tags, so this is the pseudo-version of a release commit.
MINIO_VERSION="${LONGBOW_MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/longbow/minio-${MINIO_VERSION}"
BIN="$CACHE/minio"

if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi
command -v go >/dev/null || { echo "setup-minio: go is not on PATH" >&2; exit 1; }
mkdir -p "$CACHE"
start=$(date +%s)
echo "setup-minio: building github.com/minio/minio@${MINIO_VERSION} into $CACHE (first time only)" >&2
# nice: the build shares the machine with the test suite.
GOBIN="$CACHE" GOFLAGS="-trimpath" CGO_ENABLED=0 nice -n 10 \
  go install "github.com/minio/minio@${MINIO_VERSION}" >&2
echo "setup-minio: built in $(( $(date +%s) - start ))s" >&2
echo "$BIN"
