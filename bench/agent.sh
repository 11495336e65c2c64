#!/usr/bin/env bash
# Costs of continuous profiling (bench/agent), with sonde's release binary.
#
# 1. overhead: a busy service (two workers keeping both cores busy with
#    requests that allocate, hash and now and then take a shared lock) in
#    adjacent pairs of rounds without and with an agent, the order alternating:
#    - seed: the seed's schedule (30 s CPU every 5 min, heap every 10 min,
#      goroutine every 5 min) compressed 30x: 1 s CPU every 10 s, heap every
#      20 s, goroutine every 10 s; rounds of 20 s;
#    - aggressive: 10 s CPU every 60 s, heap and goroutine every 60 s,
#      compressed 10x: 1 s every 6 s, heap and goroutine every 6 s; rounds of
#      12 s.
#    Compression keeps the share of time under the CPU profiler and makes
#    snapshots more frequent: the figures bound the real schedules' from
#    above. Reported: the CPU time of sonde's own threads (the agent's and the
#    CPU windows' collectors, read from /proc every 20 ms) as a share of the
#    two busy cores, the median of the pairs' throughput ratios (on / off) and
#    of their CPU-per-request ratios; and the first round's sonde CPU (the
#    symbolizer loads the binary's tables once per process).
# 2. store: 10,000 profiles (cpu, heap, goroutine, allocs each minute, 300
#    stacks each, about 42 hours) written into a store; then, RUNS times each:
#    `sonde store ls` against decoding every file (what a store without an
#    index must do), and `sonde top` of a one-hour window of CPU profiles
#    (`--store --from --to`) against `sonde top` of the same 60 files named
#    one by one.
#
# Usage: bench/agent.sh [PAIRS] [RUNS]   (defaults 10 and 5)
set -euo pipefail
pairs=${1:-10}
runs=${2:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/bench/agent"
cargo build --quiet --release
bin=$root/bench/agent/target/release/sonde-bench-agent
(cd "$root" && cargo build --quiet --release -p sonde-cli)
sonde=$root/target/release/sonde

echo "== overhead (pairs: $pairs)"
"$bin" overhead seed "$pairs" 20
"$bin" overhead aggressive "$pairs" 12

echo "== store (runs: $runs)"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
start=$(date +%s.%N)
"$bin" store "$dir/profiles" 10000
echo "store_fill_secs $(echo "$(date +%s.%N) - $start" | bc)"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_of() { local s e; s=$(date +%s.%N); "$@" > /dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
# The window: the last hour that the store holds.
last=$("$sonde" store ls --json --kind cpu "$dir/profiles" | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"])')
from=$(python3 -c "import datetime,sys; t=datetime.datetime.strptime('$last','%Y-%m-%dT%H:%M:%SZ'); print((t-datetime.timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%SZ'))")
files=$("$sonde" store ls --json --kind cpu --from "$from" --to "$last" "$dir/profiles" | python3 -c 'import json,sys; print(" ".join(json.loads(l)["file"] for l in sys.stdin))')
echo "window_files $(echo $files | wc -w)"
ls_t=(); dec_t=(); win_t=(); files_t=()
for r in $(seq "$runs"); do
  ls_t+=("$(time_of "$sonde" store ls "$dir/profiles")")
  dec_t+=("$("$bin" decode-all "$dir/profiles" | awk '/secs/ {print $2}')")
  win_t+=("$(time_of "$sonde" top --store "$dir/profiles" --kind cpu --from "$from" --to "$last")")
  files_t+=("$(cd "$dir/profiles" && time_of "$sonde" top $files)")
done
echo "store_ls_secs $(printf '%s\n' "${ls_t[@]}" | median)   runs: ${ls_t[*]}"
echo "decode_every_file_secs $(printf '%s\n' "${dec_t[@]}" | median)   runs: ${dec_t[*]}"
echo "window_top_secs $(printf '%s\n' "${win_t[@]}" | median)   runs: ${win_t[*]}"
echo "same_files_top_secs $(printf '%s\n' "${files_t[@]}" | median)   runs: ${files_t[*]}"
