#!/usr/bin/env bash
# Fuzzing of Rally's decoders and WebSocket path (fuzz/, cargo-fuzz + libFuzzer).
#
# Usage:
#   bash scripts/fuzz.sh ci                          build, replay every corpus, fuzz each target briefly
#   bash scripts/fuzz.sh run <target> [seconds] [-- libFuzzer args...]
#                                                    fuzz one target (default 600 s)
#   bash scripts/fuzz.sh repro <target> <input>      run one input, such as a crash artifact
#   bash scripts/fuzz.sh merge <target>              add what `run` found that adds coverage to fuzz/corpus/<target>
#   bash scripts/fuzz.sh list                        the targets
#
# Environment:
#   FUZZ_SANITIZER  address (AddressSanitizer + LeakSanitizer) or none; `ci` defaults
#                   to none (half the build time, 5-7x the runs), the others to address
#   FUZZ_CI_SECONDS seconds of fuzzing per target in `ci` (default 8)
#   FUZZ_SEED       libFuzzer seed in `ci` (default 1, so that a run is repeatable)
#
# The machine's compiler is stable: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass
# its nightly-only flags (-Zsanitizer, sanitizer coverage). cargo-fuzz is
# installed when missing. libFuzzer itself is C++, built by libfuzzer-sys with
# the system's g++. See fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(engine_packet polling_payload polling_payload_v3 socket_packet socket_assembler event_args websocket_messages ws_reader msgpack msgpack_packet)
SANITIZER="${FUZZ_SANITIZER:-address}"
[ "${1:-}" = ci ] && SANITIZER="${FUZZ_SANITIZER:-none}"
export RUSTC_BOOTSTRAP=1
# libFuzzer's limits for every run: one input may take 10 s and 2 GiB at most.
LIMITS=(-timeout=10 -rss_limit_mb=2048 -max_len=4096)

# Flags of one target. websocket_messages instruments the whole server stack
# (tokio, hyper, rally): with that many features libFuzzer's entropic
# schedule costs more than the target itself (3x fewer runs).
target_flags() {
  case "$1" in
    websocket_messages) echo -entropic=0 ;;
  esac
}

usage() {
  sed -n '4,11p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

need_cargo_fuzz() {
  if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
  fi
}

check_target() {
  local t
  for t in "${TARGETS[@]}"; do [ "$t" = "$1" ] && return 0; done
  echo "fuzz: unknown target '$1' (targets: ${TARGETS[*]})" >&2
  exit 2
}

# cargo fuzz run with this script's sanitizer.
fuzz_run() {
  local target="$1"; shift
  cargo fuzz run --sanitizer "$SANITIZER" "$target" "$@"
}

mode="${1:-}"
[ $# -gt 0 ] && shift
case "$mode" in
  list)
    printf '%s\n' "${TARGETS[@]}"
    ;;

  ci)
    need_cargo_fuzz
    seconds="${FUZZ_CI_SECONDS:-8}"
    start=$(date +%s)
    cargo fuzz build --sanitizer "$SANITIZER"
    built=$(date +%s)
    echo "fuzz: build ($SANITIZER sanitizer) took $((built - start)) s"
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    failed=()
    for t in "${TARGETS[@]}"; do
      # The committed corpus and saved crash inputs are replayed first, then
      # the target is fuzzed; new inputs go to a scratch folder.
      seeds=("fuzz/corpus/$t")
      [ -d "fuzz/regressions/$t" ] && seeds+=("fuzz/regressions/$t")
      mkdir -p "$work/$t"
      echo "fuzz: $t (${seconds} s)"
      # shellcheck disable=SC2046
      if fuzz_run "$t" "$work/$t" "${seeds[@]}" -- "${LIMITS[@]}" $(target_flags "$t") \
          -max_total_time="$seconds" -seed="${FUZZ_SEED:-1}" \
          -artifact_prefix="$work/" -print_final_stats=1 >"$work/$t.log" 2>&1; then
        grep -E '^(#[0-9]+[[:space:]]+(INITED|DONE)|stat::number_of_executed_units)' "$work/$t.log" | sed 's/^/  /'
      else
        failed+=("$t")
        tail -60 "$work/$t.log"
        for a in "$work"/crash-* "$work"/timeout-* "$work"/oom-* "$work"/leak-*; do
          [ -e "$a" ] || continue
          echo "fuzz: $t failed on this input (base64): $(base64 -w0 "$a")"
          echo "fuzz: save it as fuzz/regressions/$t/<name> and run: bash scripts/fuzz.sh repro $t fuzz/regressions/$t/<name>"
          rm -f "$a"
        done
      fi
    done
    echo "fuzz: fuzzing took $(($(date +%s) - built)) s, $(($(date +%s) - start)) s in all"
    if [ ${#failed[@]} -gt 0 ]; then
      echo "fuzz: FAILED: ${failed[*]}"
      exit 1
    fi
    echo "fuzz: ${#TARGETS[@]} passed, 0 failed"
    ;;

  run)
    [ $# -ge 1 ] || usage
    target="$1"; shift
    check_target "$target"
    seconds=600
    if [ $# -gt 0 ] && [ "$1" != "--" ]; then seconds="$1"; shift; fi
    [ "${1:-}" = "--" ] && shift
    need_cargo_fuzz
    mkdir -p "fuzz/work/$target" "fuzz/artifacts/$target"
    seeds=("fuzz/corpus/$target")
    [ -d "fuzz/regressions/$target" ] && seeds+=("fuzz/regressions/$target")
    echo "fuzz: $target for $seconds s; new inputs in fuzz/work/$target, crashes in fuzz/artifacts/$target"
    # shellcheck disable=SC2046
    fuzz_run "$target" "fuzz/work/$target" "${seeds[@]}" -- "${LIMITS[@]}" $(target_flags "$target") \
      -max_total_time="$seconds" -workers=1 -print_final_stats=1 "$@"
    ;;

  repro)
    [ $# -eq 2 ] || usage
    check_target "$1"
    need_cargo_fuzz
    fuzz_run "$1" "$2" -- "${LIMITS[@]}" -runs=1
    ;;

  merge)
    [ $# -eq 1 ] || usage
    check_target "$1"
    need_cargo_fuzz
    fuzz_run "$1" "fuzz/corpus/$1" "fuzz/work/$1" -- "${LIMITS[@]}" -merge=1
    ;;

  *)
    usage
    ;;
esac
