#!/usr/bin/env bash
# The analyzer against an earlier commit of itself, side by side: builds
# `sonde` at REV (in a git worktree under target/, its own target dir) and at
# the working tree, then runs each report on the large profile of
# bench/analyzer.sh, alternating the two binaries run by run. Prints the median
# CPU time (user+sys) and peak RSS of each, their ratios (new/old; above 1 is
# slower or bigger), and whether both printed the same report.
#
# Needs: cargo, git, GNU time (/usr/bin/time, package `time`).
# Usage: bench/analyzer-ab.sh REV [RUNS] [COMMANDS]
#   e.g. bench/analyzer-ab.sh HEAD~2 7 "top tree traces"
set -euo pipefail
rev=${1:?usage: bench/analyzer-ab.sh REV [RUNS] [COMMANDS]}
runs=${2:-5}
commands=${3:-top tree traces}
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench}
mkdir -p "$work"
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }

. "$root/bench/ab-common.sh"
ab_old_tree "$rev"

cargo build --quiet --release --manifest-path "$old_tree/Cargo.toml" --target-dir "$work/ab-old-target" -p sonde-cli
cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p sonde-cli
cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p sonde-profile --example large_profile
old=$work/ab-old-target/release/sonde
new=$root/target/release/sonde
profile=$work/large.pb.gz
[ -f "$profile" ] || "$root/target/release/examples/large_profile" generate "$profile"

for cmd in $commands; do
  : > "$work/old.times"
  : > "$work/new.times"
  for i in $(seq "$runs"); do
    # Alternate which binary goes first, so a drift in load hits both alike.
    if [ $((i % 2)) -eq 1 ]; then order="old new"; else order="new old"; fi
    for which in $order; do
      bin=$old; [ "$which" = new ] && bin=$new
      /usr/bin/time -f "%U %S %M" -o "$work/t" "$bin" "$cmd" "$profile" > "$work/$which.out"
      cat "$work/t" >> "$work/$which.times"
    done
  done
  same=DIFFER; cmp -s "$work/old.out" "$work/new.out" && same=identical
  oc=$(awk '{print $1+$2}' "$work/old.times" | ab_median)
  nc=$(awk '{print $1+$2}' "$work/new.times" | ab_median)
  or=$(awk '{print $3}' "$work/old.times" | ab_median)
  nr=$(awk '{print $3}' "$work/new.times" | ab_median)
  awk -v c="$cmd" -v oc="$oc" -v nc="$nc" -v or="$or" -v nr="$nr" -v s="$same" -v n="$runs" 'BEGIN {
    printf "%-7s CPU old %.2f s  new %.2f s  new/old %.3f | RSS old %.0f MiB  new %.0f MiB  new/old %.3f | reports %s (median of %d)\n",
      c, oc, nc, nc/oc, or/1024, nr/1024, nr/or, s, n
  }'
done
