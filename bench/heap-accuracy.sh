#!/usr/bin/env bash
# Heap profiler accuracy: the leak scenarios (bench/heap-alloc/src/bin/accuracy.rs
# and the same in Go, bench/heap-go) run RUNS times each at the default sampling
# rate (512 KiB); `go tool pprof -sample_index=inuse_space` reads every profile,
# and the script prints, per run, the in-use bytes attributed to the leaking
# function as a fraction of what it really holds:
#   seed:  10 x 1 MiB (createMemory / create_memory)
#   small: 100,000 x 100 B (leakSmall / leak_small); Go rounds each block to its
#          112-byte size class and profiles those bytes, so its truth is 11.2 MB;
#   mixed: the same leak next to 100 MB of 200-byte blocks held by another
#          function (the leak is a tenth of the heap in use).
#
# Usage: bench/heap-accuracy.sh [RUNS]   (default 10; needs go)
set -euo pipefail
runs=${1:-10}
here=$(cd "$(dirname "$0")" && pwd)
(cd "$here/heap-alloc" && cargo build --quiet --release --bin accuracy)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$here/heap-go" && go build -o "$tmp/heapgo" .)
inuse() { # profile function -> bytes in use (cum) attributed to the function
  go tool pprof -sample_index=inuse_space -top -unit=B "$1" 2>/dev/null |
    awk -v f="$2" '$NF == f { v = $4; sub(/B$/, "", v); print v; found = 1 } END { if (!found) print 0 }'
}
for scenario in seed small mixed; do
  case $scenario in
    seed) rust_fn=accuracy::create_memory; go_fn=main.createMemory; rust_truth=10485760; go_truth=10485760 ;;
    small | mixed) rust_fn=accuracy::leak_small; go_fn=main.leakSmall; rust_truth=10000000; go_truth=11200000 ;;
  esac
  rs=""; gs=""
  for r in $(seq "$runs"); do
    "$here/heap-alloc/target/release/accuracy" "$scenario" "$tmp/r.pb.gz" "$r"
    "$tmp/heapgo" "$scenario" "$tmp/g.pb.gz" "$r"
    rs="$rs $(inuse "$tmp/r.pb.gz" "$rust_fn")"
    gs="$gs $(inuse "$tmp/g.pb.gz" "$go_fn")"
  done
  python3 - "$scenario" "$rust_truth" "$go_truth" "$rs" "$gs" <<'PY'
import sys
scenario, rt, gt, rs, gs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4].split(), sys.argv[5].split()
for name, truth, vals in (("sonde", rt, rs), ("Go   ", gt, gs)):
    f = [float(v) / truth for v in vals]
    worst = max(abs(x - 1) for x in f)
    print(f"{scenario:5s} {name} fraction of truth per run: {' '.join(f'{x:.3f}' for x in f)}  "
          f"range {min(f):.3f}-{max(f):.3f}, worst error {worst * 100:.1f}%")
PY
done
