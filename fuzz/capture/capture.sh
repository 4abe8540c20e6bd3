#!/usr/bin/env bash
# Rebuilds the seed corpora of fuzz/corpus/ from real traffic: the official
# clients (interop/) against Rally's conformance servers, recorded by
# record.mjs and cut into inputs by build-corpus.mjs.
#
# Usage: bash fuzz/capture/capture.sh [--no-minimize]
#
# Builds the examples sio_conformance and engine_echo (main workspace;
# CARGO_TARGET_DIR is honoured), starts them and the reference servers of
# interop/ (official socket.io) on free ports, runs the interop clients
# (socket-client.mjs, engine-client.mjs, chat-client.mjs) under record.mjs,
# then replaces
# fuzz/corpus/<target>/ with what was captured. Unless --no-minimize, each
# corpus is then cut down to the inputs that add coverage (cargo fuzz cmin,
# RUSTC_BOOTSTRAP=1). Takes a few minutes, mostly building.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
minimize=1
[ "${1:-}" = "--no-minimize" ] && minimize=0

if [ ! -d interop/node_modules ]; then
  (cd interop && npm ci --no-audit --no-fund --loglevel=error)
fi
cargo build -q -p rally --example sio_conformance -p rally-engine --example engine_echo
bin="${CARGO_TARGET_DIR:-$root/target}/debug/examples"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

# Starts a server on $port and waits until it prints `pattern`.
start() {
  local name="$1" pattern="$2"; shift 2
  "$@" >"$work/$name.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    grep -q "$pattern" "$work/$name.out" && return 0
    sleep 0.1
  done
  echo "capture: $name did not start:"; cat "$work/$name.out"; exit 1
}

record() {
  local log="$1"; shift
  node fuzz/capture/record.mjs "$log" "$@" >"$log.out" 2>&1 || {
    echo "capture: a client run failed: $*"; cat "$log.out"; exit 1
  }
}

port="$(free_port)"
start sio "listening on 127.0.0.1:$port" "$bin/sio_conformance" --port "$port"
sio_url="http://127.0.0.1:$port"
port="$(free_port)"
start eio "listening on 127.0.0.1:$port" "$bin/engine_echo" --port "$port"
eio_url="http://127.0.0.1:$port"
port="$(free_port)"
start ref "listening $port" node interop/ref-socket-server.mjs "$port"
ref_url="http://127.0.0.1:$port"
port="$(free_port)"
start chat "listening $port" node interop/ref-chat-server.mjs "$port"
chat_url="http://127.0.0.1:$port"

logs=()
for mode in polling websocket upgrade; do
  # sio_conformance implements the scenarios `connect` and `events` of the
  # interop protocol; the reference server (official socket.io) all of them.
  for scenario in connect events; do
    record "$work/sio-$scenario-$mode.jsonl" interop/socket-client.mjs "$scenario" "$mode" "$sio_url"
    logs+=("sio:$work/sio-$scenario-$mode.jsonl")
  done
  record "$work/ref-$mode.jsonl" interop/socket-client.mjs all "$mode" "$ref_url"
  logs+=("sio:$work/ref-$mode.jsonl")
done
for scenario in polling websocket upgrade ping-timeout; do
  record "$work/eio-$scenario.jsonl" interop/engine-client.mjs "$scenario" "$eio_url"
  logs+=("eio:$work/eio-$scenario.jsonl")
done
record "$work/chat.jsonl" interop/chat-client.mjs "$chat_url"
logs+=("sio:$work/chat.jsonl")

targets=(engine_packet polling_payload socket_packet socket_assembler event_args websocket_messages)
for t in "${targets[@]}"; do rm -rf "fuzz/corpus/$t"; done
node fuzz/capture/build-corpus.mjs fuzz/corpus "${logs[@]}"

if [ "$minimize" = 1 ]; then
  for t in "${targets[@]}"; do
    RUSTC_BOOTSTRAP=1 cargo fuzz cmin "$t" -- -workers=1 >"$work/cmin-$t.log" 2>&1 || {
      echo "capture: cmin $t failed"; tail -20 "$work/cmin-$t.log"; exit 1
    }
    echo "$t: $(ls "fuzz/corpus/$t" | wc -l) inputs after cmin"
  done
fi
