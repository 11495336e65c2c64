#!/usr/bin/env bash
# Heap profiler benchmarks (bench/heap-alloc): one allocation-heavy workload (N
# allocations and frees of 8-512 bytes from a fixed seed, a rolling window of
# 10,000 live objects) with the plain system allocator, with sonde's Sampled
# wrapper at the default rate, with its counters only, and with dhat (on a
# shorter run). Runs are interleaved; prints median CPU times and the ratios to
# the plain allocator, and the cost per allocation.
#
# Usage: bench/heap.sh [RUNS] [N]   (defaults: 7 runs, 100 million allocations)
set -euo pipefail
runs=${1:-7}
n=${2:-100000000}
dhat_n=$((n / 50))
cd "$(dirname "$0")/heap-alloc"
cargo build --quiet --release
bin=target/release
out=$(mktemp)
for r in $(seq "$runs"); do
  for b in plain sampled counters; do "$bin/$b" "$n" >> "$out"; done
  "$bin/plain" "$dhat_n" | sed 's/^plain/plain-short/' >> "$out"
  "$bin/dhat" "$dhat_n" >> "$out"
  echo "run $r/$runs done" >&2
done
median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
m() { awk -v k="$1" '$1==k {print $2}' "$out" | median; }
plain=$(m plain); sampled=$(m sampled); counters=$(m counters); short=$(m plain-short); dhat=$(m dhat)
awk -v p="$plain" -v s="$sampled" -v c="$counters" -v ps="$short" -v d="$dhat" -v n="$n" -v dn="$dhat_n" -v runs="$runs" 'BEGIN {
  printf "median CPU seconds over %d interleaved runs, %d allocations (dhat: %d):\n", runs, n, dn
  printf "  plain System          %7.3f s\n", p
  printf "  Sampled, default rate %7.3f s  ratio %.4f  (%+.2f%%, %+.2f ns per allocation)\n", s, s/p, (s/p-1)*100, (s-p)*1e9/n
  printf "  Sampled, counters only%7.3f s  ratio %.4f  (%+.2f%%, %+.2f ns per allocation)\n", c, c/p, (c/p-1)*100, (c-p)*1e9/n
  printf "  dhat (short run)      %7.3f s  vs plain %.3f s on the same count: ratio %.1fx\n", d, ps, d/ps
}'
rm -f "$out"
