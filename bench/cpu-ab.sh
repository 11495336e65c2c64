#!/usr/bin/env bash
# The CPU profiler's end-to-end overhead against an earlier commit of itself:
# builds bench/cpu-sample at REV and at the working tree, and runs them
# alternately. Each `overhead` run already measures, in one process, a ~3 s
# workload unprofiled, at 100 Hz and at 1000 Hz, interleaved (see bench/cpu.sh),
# and reports each setting's CPU time over the unprofiled one; each `idle` run
# reports the profiler's own CPU per second while the program sleeps. This
# prints, per setting, the median over runs for old and new, and new/old.
# Load drifts cancel inside each run.
#
# Usage: bench/cpu-ab.sh REV [RUNS] [ROUNDS]
#   (defaults: 7 runs; 3 interleaved rounds of the three settings per run)
set -euo pipefail
rev=${1:?usage: bench/cpu-ab.sh REV [RUNS] [ROUNDS]}
runs=${2:-7}
rounds=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench}
mkdir -p "$work"
# shellcheck source=bench/ab-common.sh
. "$root/bench/ab-common.sh"
ab_old_tree "$rev"

cargo build --quiet --release --manifest-path "$old_tree/bench/cpu-sample/Cargo.toml" --target-dir "$work/ab-old-cpu"
cargo build --quiet --release --manifest-path "$root/bench/cpu-sample/Cargo.toml" --target-dir "$work/ab-new-cpu"
out=$work/cpu-ab.txt
: > "$out"
for i in $(seq "$runs"); do
  if [ $((i % 2)) -eq 1 ]; then order="old new"; else order="new old"; fi
  for which in $order; do
    bin=$work/ab-$which-cpu/release/sonde-bench-cpu
    # "  100 Hz      3.012 s  ratio 1.0040  overhead +0.40%"
    "$bin" overhead "$rounds" 2>/dev/null | awk -v w="$which" \
      '$2 == "Hz" && / ratio / {for (k = 1; k < NF; k++) if ($k == "ratio") print w, $1 "Hz", $(k + 1)}' >> "$out"
    # "idle at 100 Hz: the profiler used 3.50 ms of CPU per second (...)"
    "$bin" idle 2>/dev/null | awk -v w="$which" '/^idle at/ {print w, "idle" $3 "Hz", $8}' >> "$out"
  done
  echo "run $i/$runs done" >&2
done

median_of() { awk -v w="$1" -v k="$2" '$1 == w && $2 == k {print $3}' "$out" | ab_median; }
echo "median over $runs runs ($rounds rounds each) of the ~3 s workload's CPU time profiled / unprofiled"
for hz in 100 1000; do
  o=$(median_of old "${hz}Hz"); n=$(median_of new "${hz}Hz")
  awk -v hz="$hz" -v o="$o" -v n="$n" 'BEGIN {
    printf "  %4d Hz  old %.4f (%+.1f ms per CPU-second)  new %.4f (%+.1f ms)  new/old %.4f\n",
      hz, o, (o - 1) * 1000, n, (n - 1) * 1000, n / o }'
done
echo "median over $runs runs of the profiler's own CPU while the program sleeps 5 s"
for hz in 100 1000; do
  o=$(median_of old "idle${hz}Hz"); n=$(median_of new "idle${hz}Hz")
  awk -v hz="$hz" -v o="$o" -v n="$n" 'BEGIN {
    printf "  %4d Hz  old %.2f ms/s  new %.2f ms/s  new/old %.3f\n", hz, o, n, (o > 0 ? n / o : 0) }'
done
