#!/usr/bin/env bash
# Differential check of rally-proto's Socket.IO decoder against the reference
# parser on a folder of socket_packet inputs (default: the corpus, plus
# fuzz/work/socket_packet when a fuzzing run left one).
# Usage: bash fuzz/differential/socket_parser.sh [folder]
set -euo pipefail
cd "$(dirname "$0")/../.."
folders=("${@}")
if [ ${#folders[@]} -eq 0 ]; then
  folders=(fuzz/corpus/socket_packet)
  [ -d fuzz/work/socket_packet ] && folders+=(fuzz/work/socket_packet)
fi
[ -d interop/node_modules ] || (cd interop && npm ci --no-audit --no-fund --loglevel=error)
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
status=0
for folder in "${folders[@]}"; do
  RALLY_DIFF_IN="$PWD/$folder" RALLY_DIFF_OUT="$out" \
    cargo test -q --manifest-path fuzz/Cargo.toml --test dump_socket_packets >/dev/null
  echo "$folder:"
  node fuzz/differential/socket_parser.mjs "$folder" "$out" || status=1
done
exit $status
