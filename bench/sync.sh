#!/usr/bin/env bash
# Costs of the contention, thread and task profiles (bench/sync), each
# measurement in one process with its modes in interleaved rounds (rotating
# order), RUNS processes of each; prints the median over runs of every value.
#
# 1. uncontended: one thread, 20 million lock()+increment+unlock of a
#    Mutex<u64>, std vs sonde::sync vs parking_lot, 5 rounds each: ns/op and
#    ratios to std (whole-process totals of each mode).
# 2. contended: the seed's Case Study 6 cache (4 threads x 200k ops on a
#    sonde::sync::RwLock<HashMap<u64, String>>, 1 op in 10 a set formatting a
#    ~100-byte value under the write lock): ops/s with the contention profiles
#    off, on (mutex fraction 1, block rate 1), and in 16 shards (off); median
#    of 5 rounds each.
# 3. threads: 1000 threads (64 KiB stacks) parked on a channel receive; 10
#    calls of sonde::threads::profile(): time per call, and how sonde's own and
#    the process's live heap bytes change over the calls.
# 4. tasks: tiny tasks (awaited in batches of 10k) spawned with tokio::spawn
#    vs sonde::tasks::spawn, 20 adjacent pairs of rounds of 100k tasks each,
#    in three shapes: from outside a 2-worker runtime (block_on), from a task
#    on one of its workers, on a current-thread runtime; median ns per task
#    and median of the pairs' ratios.
#
# Usage: bench/sync.sh [RUNS]   (default 5)
set -euo pipefail
runs=${1:-5}
cd "$(dirname "$0")/sync"
cargo build --quiet --release
bin=target/release/sonde-bench-sync
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq "$runs"); do
  for sub in uncontended contended threads tasks; do
    "$bin" "$sub" | awk -v s="$sub" -v r="$r" '{print s, r, $1, $2}' >> "$out"
  done
  echo "run $r/$runs done" >&2
done
python3 - "$out" "$runs" <<'PY'
import sys, statistics
path, runs = sys.argv[1], int(sys.argv[2])
t = {}
order = []
for line in open(path):
    sub, run, key, val = line.split()
    if (sub, key) not in t:
        order.append((sub, key))
    t.setdefault((sub, key), []).append(float(val))
print(f"median over {runs} runs:")
last = None
for sub, key in order:
    if sub != last:
        print(f"{sub}:")
        last = sub
    v = t[(sub, key)]
    m = statistics.median(v)
    runs_s = ", ".join(f"{x:.4g}" for x in sorted(v))
    print(f"  {key:32s} {m:14.4f}   runs: {runs_s}")
PY
