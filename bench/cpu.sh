#!/usr/bin/env bash
# CPU profiler benchmarks (bench/cpu-sample): the cost of one sample's stack walk
# from a 60-frame stack for sonde's walks and pprof-rs 0.15's, in a build with
# frame pointers and in a plain release build; the end-to-end overhead on a ~3 s
# workload at 100 and 1000 Hz (interleaved runs, medians); the profiler's own
# cost while the program idles.
#
# Usage: bench/cpu.sh [RUNS]   (default 7)
set -euo pipefail
runs=${1:-7}
cd "$(dirname "$0")/cpu-sample"
echo "== build with -C force-frame-pointers=yes"
RUSTFLAGS="-C force-frame-pointers=yes" CARGO_TARGET_DIR=target/fp cargo run --quiet --release -- sample
echo
echo "== plain cargo build --release (no frame pointers in user code)"
cargo run --quiet --release -- sample
echo
cargo run --quiet --release -- overhead "$runs"
echo
cargo run --quiet --release -- idle
