#!/usr/bin/env bash
# The web UI in headless Chromium (bench/web): `sonde web` against `go tool
# pprof -http` on the analyzer benchmark's 500,000-sample profile, RUNS runs of
# each (one after the other, on the same machine), medians printed.
#
# Targets (issue 16): first paint of the flame graph <= 1 s after navigation,
# zoom and hover <= 50 ms, page memory <= 200 MB, the first view's JSON <= 5 MB.
#
# Needs: Go (golang-go), chromium and chromium-driver.
# Usage: bench/web.sh [RUNS]   (default 5)
#        BENCH_WEB_SKIP_GO=1 bench/web.sh [RUNS]   sonde only (pprof's flame
#        graph page is given 120 s per run)
set -euo pipefail
runs=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench}
mkdir -p "$work"
command -v go >/dev/null || { echo "needs Go: apt-get install golang-go" >&2; exit 1; }
command -v chromedriver >/dev/null || { echo "needs apt-get install chromium chromium-driver" >&2; exit 1; }

cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p sonde-cli
cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p sonde-profile --example large_profile
cargo build --quiet --release --manifest-path "$root/bench/web/Cargo.toml"
profile=$work/large.pb.gz
[ -f "$profile" ] || "$root/target/release/examples/large_profile" generate "$profile"
gopprof=$(go env GOTOOLDIR)/pprof

out=$work/web.runs
: > "$out"
for r in $(seq "$runs"); do
  "$root/bench/web/target/release/sonde-bench-web" "$root/target/release/sonde" "$gopprof" "$profile" | tee -a "$out"
  echo "run $r/$runs done" >&2
done
echo "medians over $runs runs (machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)):"
awk '{v[$1] = v[$1] " " $2} END {for (k in v) print k, v[k]}' "$out" | sort | while read -r name values; do
  printf '%-32s %s\n' "$name" "$(echo "$values" | tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')"
done
