#!/usr/bin/env bash
# Prints a directory node-gyp can use as `nodedir` (it holds include/node/common.gypi), so
# `npm install` builds hnswlib-node without downloading Node's headers — a download from
# outside the package registries, which this project's machines cannot make.
#
# hnswlib-node is an N-API addon: N-API is ABI-stable, so headers of any Node >= 18 build
# an addon that Node 24 loads. In order: npm's own `nodedir` setting when it is usable,
# then the system Node's headers (Debian's nodejs package installs /usr/include/node).
# Prints nothing when none is found (node-gyp then tries its download).
set -euo pipefail

usable() { [[ -n "$1" && -f "$1/include/node/common.gypi" ]]; }

configured="$(npm config get nodedir 2>/dev/null || true)"
if usable "$configured"; then echo "$configured"; exit 0; fi
for dir in /usr /usr/local; do
  if usable "$dir"; then echo "$dir"; exit 0; fi
done
echo "node-headers: no Node headers found (npm nodedir, /usr, /usr/local); node-gyp will try to download them" >&2
