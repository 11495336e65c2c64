#!/usr/bin/env bash
# The README's test command on a busy machine: builds the tests first (without
# load), then runs `cargo test --workspace` ROUNDS times (default 3) while two
# busy-loop processes, pinned to CPUs 0 and 1 with taskset when it exists, keep
# both cores of a 2-core machine busy. Prints each round's verdict and wall
# time, and exits non-zero if any round failed. The loops are killed on exit.
#
# Usage: bench/test-under-load.sh [--rounds N] [--only "COMMAND"]
#   --rounds N     how many rounds (default 3)
#   --only CMD     run CMD (a shell command) in each round instead of the
#                  README's command, with no build first; .ci/run uses it for
#                  the timing-sensitive test targets
#
# SONDE_REQUIRE_GO=1 is set, as in CI: the Go interop tests run, or fail.
# Round logs go to ${CARGO_TARGET_DIR:-target}/under-load/.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=${2:?--rounds needs a number}; shift 2 ;;
    --only) only=${2:?--only needs a command}; shift 2 ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test-under-load.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$rounds" in '' | *[!0-9]* | 0) echo "test-under-load.sh: --rounds wants a positive number, got '$rounds'" >&2; exit 2 ;; esac

export SONDE_REQUIRE_GO=1
logs="${CARGO_TARGET_DIR:-target}/under-load"
mkdir -p "$logs"

loader_pids=()

# Starts one busy loop per CPU id given, pinned to it when taskset exists
# (modulo the CPUs there are).
start_load() {
  local cpu ncpu
  ncpu=$(nproc)
  for cpu in "$@"; do
    if command -v taskset >/dev/null; then
      taskset -c "$((cpu % ncpu))" sh -c 'while :; do :; done' &
    else
      sh -c 'while :; do :; done' &
    fi
    loader_pids+=("$!")
  done
  if command -v taskset >/dev/null; then
    echo "load: ${#loader_pids[@]} busy loops pinned to CPUs $* (pids ${loader_pids[*]})"
  else
    echo "load: ${#loader_pids[@]} busy loops, not pinned: taskset is missing (pids ${loader_pids[*]})"
  fi
}

# Kills the busy loops this script started (by pid, nothing else).
stop_load() {
  if [ ${#loader_pids[@]} -gt 0 ]; then
    kill "${loader_pids[@]}" 2>/dev/null || true
    wait "${loader_pids[@]}" 2>/dev/null || true
    loader_pids=()
  fi
}
trap stop_load EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

minutes() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

if [ -n "$only" ]; then
  command=$only
else
  command="cargo test --workspace"
  echo "build: cargo test --workspace --no-run (no load)"
  start=$SECONDS
  cargo test --workspace --no-run --quiet
  echo "build: done in $(minutes $((SECONDS - start)))"
fi

echo "command: $command"
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the busy loops"
start_load 0 1
failed=0
for round in $(seq 1 "$rounds"); do
  log="$logs/round-$round.log"
  start=$SECONDS
  if bash -c "$command" >"$log" 2>&1; then
    verdict=PASS
  else
    verdict=FAIL
    failed=$((failed + 1))
  fi
  took=$((SECONDS - start))
  echo "round $round/$rounds: $verdict in $(minutes "$took") (${took} s; log $log)"
  if [ "$verdict" = FAIL ]; then
    grep -E -A12 "panicked at|^failures:|error(\[|:)" "$log" | head -60 | sed 's/^/    /' || true
  fi
done
stop_load

if [ "$failed" -gt 0 ]; then
  echo "FAIL: $failed of $rounds rounds failed under load"
  exit 1
fi
echo "PASS: $rounds of $rounds rounds passed under load"
