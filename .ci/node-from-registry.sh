#!/usr/bin/env bash
# Prints the bin folder of Node <major> for this machine, installing it first when it is not there yet:
# the npm registry's node-linux-<arch> packages carry Node's own binaries. It goes into a cache outside
# the project (one folder per major and CPU), so it never enters package.json or the lockfile.
# Used by .ci/run (the suite on the major in .nvmrc) and scripts/test-on-node.ts (another major).
set -euo pipefail
major="${1:?usage: node-from-registry.sh <major>}"
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "no Node $major package for $(uname -m); install Node $major" >&2 && exit 1 ;;
esac
cache="${XDG_CACHE_HOME:-$HOME/.cache}/storefront-sagas/node-$major-$arch"
bin="$cache/node_modules/node-linux-$arch/bin"
if [ ! -x "$bin/node" ]; then
  mkdir -p "$cache"
  [ -f "$cache/package.json" ] || echo '{ "private": true }' > "$cache/package.json"
  # npm's own output goes to stderr: stdout is the answer.
  npm install --prefix "$cache" --no-audit --no-fund --no-save "node-linux-$arch@$major" < /dev/null >&2
fi
echo "$bin"
