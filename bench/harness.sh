#!/usr/bin/env bash
# The benchmark harnesses compared (issue: sonde-bench): the reference set
# (Fibonacci10/20, ConcatPlus/Builder/BuilderPrealloc, SliceWithout/WithPrealloc,
# Processing/Size1000, Parallel, and Empty for the timer floor) under
#   sonde-bench (crates/sonde-bench/benches/seed.rs), criterion 0.7 and
#   divan 0.1 (bench/harness/rust, the same Rust code),
#   and go test -bench (bench/harness/go, the same functions in Go);
# then sonde-bench with both cores kept busy by two other processes, an A/A
# comparison (two --count 10 runs of the same binary through sonde benchstat),
# the empty benchmark 20 times, and compile time and dependency counts of
# sonde-bench and divan.
#
# Usage: bench/harness.sh [RUNS]   (default 3 runs of the quick harnesses; needs go)
set -euo pipefail
runs=${1:-3}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=$(mktemp -d)
busy_pids=()
cleanup() { for p in "${busy_pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$out"; }
trap cleanup EXIT

cd "$here/harness/rust"
cargo build --quiet --release --benches
bin() { ls -t target/release/deps/"$1"-* | grep -v '\.d$' | head -1; }
criterion=$(bin with_criterion); divan=$(bin with_divan)
(cd "$root" && cargo build --quiet --release && cargo build --quiet --release -p sonde-bench --bench seed)
sonde=$(cd "$root" && ls -t target/release/deps/seed-* | grep -v '\.d$' | head -1)
sonde="$root/$sonde"
sonde_cli="$root/target/release/sonde"
# walltime OUTFILE CMD...: runs CMD with its output in OUTFILE, prints the seconds.
walltime() { local f=$1 s e; shift; s=$(date +%s.%N); "$@" > "$f" 2>&1; e=$(date +%s.%N); echo "$s $e" | awk '{printf "%.2f", $2 - $1}'; }

echo "quiet machine: $runs runs of sonde-bench and divan, 1 of criterion and go test" >&2
for r in $(seq "$runs"); do
  w=$(walltime "$out/sonde.$r" "$sonde" --benchmem); echo "wall sonde $w" >> "$out/wall"
  w=$(walltime "$out/divan.$r" "$divan" --bench); echo "wall divan $w" >> "$out/wall"
done
rm -rf target/criterion
w=$(walltime /dev/null "$criterion" --bench); echo "wall criterion $w" >> "$out/wall"
cp -r target/criterion "$out/criterion"
(cd "$here/harness/go" && w=$(walltime "$out/go.1" go test -run '^$' -bench . -benchmem) && echo "wall go $w" >> "$out/wall")

echo "loaded machine: two busy processes, $runs runs of sonde-bench" >&2
for _ in 1 2; do sh -c 'while :; do :; done' & busy_pids+=($!); done
for r in $(seq "$runs"); do
  w=$(walltime "$out/loaded.$r" "$sonde" --benchmem); echo "wall loaded $w" >> "$out/wall"
done
for p in "${busy_pids[@]}"; do kill "$p"; done; busy_pids=()

echo "A/A: two --count 10 runs" >&2
"$sonde" --count 10 > "$out/aa.1" 2>/dev/null
"$sonde" --count 10 > "$out/aa.2" 2>/dev/null
"$sonde_cli" benchstat "$out/aa.1" "$out/aa.2" > "$out/aa.txt"

echo "empty benchmark: 20 runs" >&2
for r in $(seq 20); do "$sonde" --bench Empty 2>/dev/null | awk '/^BenchmarkEmpty/ {print $3}' >> "$out/empty"; done

python3 - "$out" "$runs" <<'PY'
import glob, json, os, re, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
names = ["Fibonacci10", "Fibonacci20", "ConcatPlus", "ConcatBuilder", "ConcatBuilderPrealloc",
         "SliceWithoutPrealloc", "SliceWithPrealloc", "Processing/Size1000", "Parallel", "Empty"]
def go_format(path):
    r = {}
    for line in open(path):
        m = re.match(r"Benchmark(\S+?)(-\d+)?\s+\d+\s+([\d.]+) ns/op", line)
        if m: r[m.group(1)] = float(m.group(3))
    return r
unit = {"ps": 1e-3, "ns": 1, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}
def divan(path):
    r = {}
    for line in open(path):
        m = re.match(r"[├╰]─ (\S+)\s+(.*)", line)
        if not m: continue
        cols = [c.strip() for c in m.group(2).split("│")]
        if len(cols) < 3:
            continue
        v, u = cols[2].split()
        r[m.group(1).replace("_", "/")] = float(v) * unit[u]
    return r
def criterion(d):
    r = {}
    for f in glob.glob(os.path.join(d, "*", "new", "estimates.json")):
        n = f.split(os.sep)[-3].replace("_", "/")
        r[n] = json.load(open(f))["median"]["point_estimate"]
    return r
med = statistics.median
def per_run(prefix, parse):
    rs = [parse(p) for p in sorted(glob.glob(os.path.join(out, prefix + ".*")))]
    return {n: [r[n] for r in rs if n in r] for n in names}
sonde, div, loaded = per_run("sonde", go_format), per_run("divan", divan), per_run("loaded", go_format)
crit, go = criterion(os.path.join(out, "criterion")), go_format(os.path.join(out, "go.1"))
spread = lambda v: (max(v) - min(v)) / med(v) * 100 if v and med(v) else float("nan")
print(f"ns/op, quiet machine (sonde-bench and divan: median of {runs} runs, spread = (max-min)/median):")
print(f"{'benchmark':22s} {'sonde-bench':>12s} {'spread':>7s} {'criterion':>10s} {'sonde/crit':>10s} {'divan':>10s} {'spread':>7s} {'go (Go code)':>12s}")
for n in names:
    s, d = sonde[n], div[n]
    c = crit.get(n, float("nan"))
    print(f"{n:22s} {med(s):12.4g} {spread(s):6.1f}% {c:10.4g} {med(s)/c:10.3f} {med(d) if d else float('nan'):10.4g} {spread(d):6.1f}% {go.get(n, float('nan')):12.4g}")
print("(divan's Parallel is time per iteration on each of 2 threads; criterion's is Go's wall time per operation.)")
print()
print(f"loaded machine (two busy processes), sonde-bench median of {runs} runs, ratio to its quiet figure:")
worst = 0
for n in names:
    if n == "Parallel":
        continue  # needs both cores, which the load takes
    r = med(loaded[n]) / med(sonde[n])
    worst = max(worst, abs(r - 1))
    print(f"  {n:22s} {med(loaded[n]):10.4g} ns/op  ratio {r:.3f}")
print(f"  worst single-threaded deviation: {worst*100:.1f}%  (Parallel: {med(loaded['Parallel'])/med(sonde['Parallel']):.2f}x, the load takes its second core)")
print()
walls = {}
for line in open(os.path.join(out, "wall")):
    _, k, v = line.split(); walls.setdefault(k, []).append(float(v))
print("wall time of one run of the reference set (median):", ", ".join(f"{k} {med(v):.2f} s" for k, v in walls.items()))
print()
aa = open(os.path.join(out, "aa.txt")).read()
rows = [l for l in aa.splitlines() if re.search(r"\(p=", l)]
sig = [l for l in rows if not re.search(r"~ \(p=", l)]
print(f"A/A (two --count 10 runs, sonde benchstat): {len(sig)} of {len(rows)} rows significantly changed")
for l in sig: print("  " + l)
e = [float(x) for x in open(os.path.join(out, "empty")).read().split()]
print(f"empty benchmark, 20 runs: median {med(e):.4f} ns/op, max {max(e):.4f} ns/op")
PY
