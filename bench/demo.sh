#!/usr/bin/env bash
# `sonde demo`'s duration, the default run (release build) and `--quick`, each
# RUNS times in a fresh directory: the median time of each case and of the
# whole run, and how many runs passed. The issue's targets: the default run
# under 2 minutes, --quick under 30 s, on 2 cores.
#
# Needs: cargo.
# Usage: bench/demo.sh [RUNS]   (default 3)
set -euo pipefail
runs=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench}/demo
mkdir -p "$work"

cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p sonde-cli
sonde=$root/target/release/sonde

median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

for mode in default quick; do
  flag=; [ "$mode" = quick ] && flag=--quick
  : > "$work/$mode.cases"
  : > "$work/$mode.totals"
  passed=0
  for i in $(seq "$runs"); do
    rm -rf "$work/run" && mkdir -p "$work/run"
    start=$(date +%s.%N)
    out=$work/$mode-$i.out
    if (cd "$work/run" && "$sonde" demo $flag > "$out" 2>&1); then passed=$((passed + 1)); fi
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f\n", b - a}' >> "$work/$mode.totals"
    # " 2. CPU profile: ...   PASS  1.3 s" -> "2 1.3"
    grep -E '^ ?[0-9]+\. .* (PASS|FAIL)  [0-9.]+ s$' "$out" \
      | awk '{print $1+0, $(NF-1)}' >> "$work/$mode.cases"
    echo "$mode run $i/$runs: $(tail -n 1 "$work/$mode.totals") s, $(grep -c ' PASS ' "$out") cases passed"
    grep -E '^    FAIL ' "$out" || true
  done
  echo "$mode: median $(median < "$work/$mode.totals") s over $runs runs, $passed passed; per case (median s):"
  for n in $(awk '{print $1}' "$work/$mode.cases" | sort -n | uniq); do
    printf '  %2d  %s\n' "$n" "$(awk -v n="$n" '$1 == n {print $2}' "$work/$mode.cases" | median)"
  done
done
