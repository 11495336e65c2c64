#!/usr/bin/env bash
# What a benchmark harness costs to build: a one-benchmark crate with
# sonde-bench (default features, and with `profiles`) and the same with divan, each built from scratch (release,
# benches) in a fresh target directory; prints wall times and the number of
# crates each pulls in (normal dependencies, the harness itself included).
#
# Usage: bench/harness-build.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mk() { # name dependency-line bench-source
  mkdir -p "$tmp/$1/benches" "$tmp/$1/src"
  printf '[package]\nname = "%s"\nversion = "0.0.0"\nedition = "2024"\n\n[dependencies]\n%s\n\n[[bench]]\nname = "b"\nharness = false\n\n[workspace]\n' "$1" "$2" > "$tmp/$1/Cargo.toml"
  echo "" > "$tmp/$1/src/lib.rs"
  printf '%s\n' "$3" > "$tmp/$1/benches/b.rs"
}
mk with-sonde "sonde-bench = { path = \"$root/crates/sonde-bench\" }" \
  'fn f(b: &mut sonde_bench::B) { b.iter(|| sonde_bench::black_box(1 + 1)); }
sonde_bench::main!(f);'
mk with-sonde-profiles "sonde-bench = { path = \"$root/crates/sonde-bench\", features = [\"profiles\"] }" \
  'fn f(b: &mut sonde_bench::B) { b.iter(|| sonde_bench::black_box(1 + 1)); }
sonde_bench::main!(f);'
mk with-divan 'divan = "0.1"' \
  'fn main() { divan::main(); }
#[divan::bench] fn f() -> u32 { divan::black_box(1) + 1 }'
for c in with-sonde with-sonde-profiles with-divan; do
  (cd "$tmp/$c" && cargo fetch --quiet 2>/dev/null || true)
  s=$(date +%s.%N)
  (cd "$tmp/$c" && CARGO_TARGET_DIR="$tmp/target-$c" cargo build --quiet --release --benches)
  e=$(date +%s.%N)
  n=$(cd "$tmp/$c" && cargo tree -e normal --prefix none | sed 's/ (\*)//' | sort -u | grep -vc "^$c ")
  echo "$c: clean release build $(echo "$s $e" | awk '{printf "%.1f", $2 - $1}') s, $n crates"
done
