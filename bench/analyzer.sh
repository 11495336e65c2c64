#!/usr/bin/env bash
# The analyzer benchmark: `sonde top` against `go tool pprof -top` on the same
# large profile (500,000 samples, 20,000 functions, 200,000 locations, inlined
# frames, recursion, labels, long generic names), generated deterministically.
# Runs are interleaved; the script prints the median CPU time (user+sys) and the
# median peak RSS of each tool and their ratios, checks that both print the same
# report, and measures sonde's decode throughput.
#
# Needs: cargo, Go (golang-go) and GNU time (/usr/bin/time, package `time`).
# Usage: bench/analyzer.sh [RUNS]   (default 5)
set -euo pipefail
runs=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench}
mkdir -p "$work"

command -v go >/dev/null || { echo "needs Go: apt-get install golang-go" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }

cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p sonde-cli
cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p sonde-profile --example large_profile
sonde=$root/target/release/sonde
gen=$root/target/release/examples/large_profile
gopprof=$(go env GOTOOLDIR)/pprof
[ -x "$gopprof" ] || { echo "go tool pprof binary not found at $gopprof" >&2; exit 1; }

profile=$work/large.pb.gz
"$gen" generate "$profile"

: > "$work/sonde.times"
: > "$work/go.times"
for i in $(seq "$runs"); do
  /usr/bin/time -f "%U %S %M" -o "$work/t" "$sonde" top "$profile" > "$work/sonde.out"
  cat "$work/t" >> "$work/sonde.times"
  /usr/bin/time -f "%U %S %M" -o "$work/t" "$gopprof" -top "$profile" > "$work/go.out" 2> "$work/go.err"
  tail -n 1 "$work/t" >> "$work/go.times"
  echo "run $i/$runs: sonde $(tail -n 1 "$work/sonde.times")  go $(tail -n 1 "$work/go.times")  (user s, sys s, max RSS kB)"
done

if cmp -s "$work/sonde.out" "$work/go.out"; then
  echo "reports: identical ($(wc -l < "$work/go.out") lines)"
else
  echo "reports: DIFFER (see $work/sonde.out and $work/go.out)"
fi

median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
s_cpu=$(awk '{print $1+$2}' "$work/sonde.times" | median)
g_cpu=$(awk '{print $1+$2}' "$work/go.times" | median)
s_rss=$(awk '{print $3}' "$work/sonde.times" | median)
g_rss=$(awk '{print $3}' "$work/go.times" | median)
awk -v sc="$s_cpu" -v gc="$g_cpu" -v sr="$s_rss" -v gr="$g_rss" 'BEGIN {
  printf "median CPU:      sonde %.2f s   go tool pprof %.2f s   sonde/go = %.3f (target <= 0.100)\n", sc, gc, sc/gc
  printf "median peak RSS: sonde %.0f MiB  go tool pprof %.0f MiB  sonde/go = %.3f (target <= 0.250)\n", sr/1024, gr/1024, sr/gr
}'
"$gen" decode "$profile" "$runs"
