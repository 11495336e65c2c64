#!/usr/bin/env bash
# Heap profiler benchmarks (bench/heap-alloc): one allocation-heavy workload (N
# allocations and frees of 8-512 bytes from a fixed seed, a rolling window of
# 10,000 live objects).
#
# 1. In one process (bin `paired`), phases rotating between the plain system
#    allocator, sonde's Sampled wrapper at the default rate, its counters only,
#    and a bare thread-local counter pair (the floor for any counting wrapper).
#    RUNS runs; prints the median over runs of each mode's CPU time ratio to
#    plain, and the added cost per allocation (each allocation here is one
#    alloc and one free).
# 2. dhat against the plain allocator, in separate interleaved processes on a
#    fiftieth of the allocations (dhat is slow).
#
# Usage: bench/heap.sh [RUNS] [N]   (defaults: 9 runs, 100 million allocations)
set -euo pipefail
runs=${1:-9}
n=${2:-100000000}
dhat_n=$((n / 50))
cd "$(dirname "$0")/heap-alloc"
cargo build --quiet --release
bin=target/release
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq "$runs"); do
  "$bin/paired" "$n" 2>/dev/null | awk -v r="$r" '{print "paired", r, $2, $3}' >> "$out"
  "$bin/plain" "$dhat_n" | awk -v r="$r" '{print "short", r, "plain", $2}' >> "$out"
  "$bin/dhat" "$dhat_n" | awk -v r="$r" '{print "short", r, "dhat", $2}' >> "$out"
  echo "run $r/$runs done" >&2
done
python3 - "$out" "$n" "$dhat_n" "$runs" <<'PY'
import sys, statistics
path, n, dn, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t = {}
for line in open(path):
    kind, run, mode, secs = line.split()
    t.setdefault((kind, mode), {})[run] = float(secs)
def ratios(kind, mode, base):
    a, b = t[(kind, mode)], t[(kind, base)]
    return [a[r] / b[r] for r in sorted(a)]
plain = statistics.median(t[("paired", "plain")].values())
print(f"median over {runs} runs of {n} allocations (each one alloc and one free):")
print(f"  plain System               {plain:7.3f} s CPU")
for mode, label in [("tls", "bare TLS counter pair"), ("counters", "Sampled, counters only"), ("sampled", "Sampled, default rate")]:
    r = statistics.median(ratios("paired", mode, "plain"))
    rs = ", ".join(f"{x:.3f}" for x in sorted(ratios("paired", mode, "plain")))
    print(f"  {label:26s} ratio {r:.4f} ({(r - 1) * 100:+.2f}%, {(r - 1) * plain * 1e9 / n:+.2f} ns per allocation)  runs: {rs}")
d = statistics.median(ratios("short", "dhat", "plain"))
print(f"  dhat ({dn} allocations, separate processes) ratio {d:.1f}x")
PY
