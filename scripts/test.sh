#!/usr/bin/env bash
# Runs every test of the workspace, installing what the tests need first.
# Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
# The chat demo's browser test drives Debian's Chromium.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# The cluster tests (rally-redis, rally serve --redis) start their own Redis.
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

# The official JavaScript clients and servers the interop tests drive.
if [ ! -d interop/node_modules ] || [ interop/package-lock.json -nt interop/node_modules ]; then
  (cd interop && npm ci --no-audit --no-fund --loglevel=error)
fi

cargo test --workspace --all-targets
cargo test --workspace --doc
