#!/usr/bin/env bash
# Runs every test of the workspace, installing what the tests need first,
# checks that the API docs build without a warning, then runs the fuzz
# targets' CI pass (scripts/fuzz.sh ci: build, replay every corpus and saved
# crash input, fuzz each target briefly; about a minute of fuzzing in all,
# FUZZ_CI_SECONDS per target).
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
# The session forwarding tests balance rally serve nodes with nginx.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
# The Postgres cluster tests (rally-postgres) start their own server with
# initdb and pg_ctl; Debian keeps them in /usr/lib/postgresql/<version>/bin,
# off the PATH.
command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need_apt+=(postgresql)
# libFuzzer (C++) is built by libfuzzer-sys for the fuzz targets.
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
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
# The API docs build without a warning (broken intra-doc links, bad HTML).
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

# Fuzzing: cargo-fuzz is installed when missing; its build lives in
# fuzz/target (ignored by git) unless CARGO_TARGET_DIR says otherwise.
bash scripts/fuzz.sh ci
