#!/usr/bin/env bash
# The heap profiler's allocator wrapper against an earlier commit of itself:
# builds bench/heap-alloc's `paired` binary at REV and at the working tree, and
# runs them alternately. Each run already measures, in one process, the
# wrapper's modes against the plain system allocator (see bench/heap.sh); this
# prints, per mode, the median over runs of that ratio for old and new, and
# new/old of the added cost (ratio - 1). Load drifts cancel inside each run.
#
# Usage: bench/heap-ab.sh REV [RUNS] [N]   (defaults: 7 runs, 30 million allocations)
set -euo pipefail
rev=${1:?usage: bench/heap-ab.sh REV [RUNS] [N]}
runs=${2:-7}
n=${3:-30000000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench}
mkdir -p "$work"
. "$root/bench/ab-common.sh"
ab_old_tree "$rev"

cargo build --quiet --release --manifest-path "$old_tree/bench/heap-alloc/Cargo.toml" --target-dir "$work/ab-old-heap"
cargo build --quiet --release --manifest-path "$root/bench/heap-alloc/Cargo.toml" --target-dir "$work/ab-new-heap"
out=$work/heap-ab.txt
: > "$out"
for i in $(seq "$runs"); do
  if [ $((i % 2)) -eq 1 ]; then order="old new"; else order="new old"; fi
  for which in $order; do
    "$work/ab-$which-heap/release/paired" "$n" 2>/dev/null | awk -v w="$which" -v r="$i" '{print w, r, $2, $3}' >> "$out"
  done
  echo "run $i/$runs done" >&2
done
python3 - "$out" "$runs" "$n" <<'PY'
import sys, statistics
path, runs, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
t = {}
for line in open(path):
    which, run, mode, secs = line.split()
    t.setdefault((which, mode), {})[run] = float(secs)
print(f"median over {runs} runs of {n} allocations; ratio = mode's CPU time / plain System's in the same process")
for mode in ["sampled", "counters", "tls"]:
    r = {}
    for which in ["old", "new"]:
        a, b = t[(which, mode)], t[(which, "plain")]
        r[which] = statistics.median(a[k] / b[k] for k in a)
    plain = statistics.median(t[("new", "plain")].values())
    ns = lambda x: (x - 1) * plain * 1e9 / n
    print(f"  {mode:9s} old {r['old']:.4f} ({ns(r['old']):+.2f} ns/alloc)  new {r['new']:.4f} ({ns(r['new']):+.2f} ns/alloc)  new/old of ratio {r['new']/r['old']:.4f}")
PY
