#!/usr/bin/env bash
# Runs the standalone Rally server with its chat demo on http://localhost:3000,
# installing what it needs first. Extra arguments go to `rally serve`
# (try `bash scripts/run.sh --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "rally needs Rust's cargo: install it (https://rustup.rs) and run this again" >&2
  exit 1
fi
need_apt=()
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

# The official browser client (socket.io-client 4.8.4), built into the binary.
if [ ! -d interop/node_modules/socket.io-client ] || [ interop/package-lock.json -nt interop/node_modules ]; then
  (cd interop && npm ci --no-audit --no-fund --loglevel=error)
fi

cargo build --release -p rally-cli
exec target/release/rally serve "$@"
