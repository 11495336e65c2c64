#!/usr/bin/env bash
# Costs of the /debug/pprof endpoints (bench/http), RUNS processes of each
# measurement; prints the median over runs of every value.
#
# 1. latency: the index page and the heap profile of a process holding
#    100,000 live sampled blocks (every allocation sampled) from 100 call
#    sites: median and p99 ms over 200 requests (targets: index <= 5 ms, heap
#    <= 100 ms).
# 2. memory: sonde's own (with and without its symbol cache) and the
#    process's live heap bytes between request 10
#    and request 1000 to heap, goroutine?debug=1 and the index (target: no
#    growth beyond the symbol cache).
# 3. load: an axum app's /fast latency (p50, p99) with and without 8 clients
#    fetching the index and heap profile, in alternating rounds; scraper
#    errors (target: none).
#
# Usage: bench/http.sh [RUNS]   (default 5)
set -euo pipefail
runs=${1:-5}
cd "$(dirname "$0")/http"
cargo build --quiet --release
bin=target/release/sonde-bench-http
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq "$runs"); do
  for sub in latency memory load; do
    "$bin" "$sub" | awk -v s="$sub" '{print s, $1, $2}' >> "$out"
  done
  echo "run $r/$runs done" >&2
done
python3 - "$out" "$runs" <<'PY'
import sys, statistics
path, runs = sys.argv[1], int(sys.argv[2])
t, order = {}, []
for line in open(path):
    sub, key, val = line.split()
    if (sub, key) not in t:
        order.append((sub, key))
    t.setdefault((sub, key), []).append(float(val))
print(f"median over {runs} runs:")
for sub, key in order:
    v = t[(sub, key)]
    print(f"  {sub:8s} {key:40s} {statistics.median(v):12.3f}   runs: {', '.join(f'{x:.4g}' for x in sorted(v))}")
PY
