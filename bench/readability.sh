#!/usr/bin/env bash
# How readable a Rust CPU profile is by default: a small tokio service
# (bench/readability: handlers over a Mutex<HashMap> cache and string
# formatting) profiled at 1000 Hz, then `sonde top` in each view
# (plain, --noinlines, --cum, --user-code); prints where the functions the
# service's author wrote rank.
#
# Usage: bench/readability.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --quiet --release --manifest-path "$root/bench/readability/Cargo.toml"
cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p sonde-cli
profile=$(mktemp -d)/service.pb.gz
"$root/bench/readability/target/release/sonde-readability" "$profile"
for view in "" "--noinlines" "--cum" "--user-code"; do
  echo "== sonde top $view (first 15 rows)"
  # shellcheck disable=SC2086
  "$root/target/release/sonde" top $view -n 15 "$profile" | tee "$profile.top" | sed -n '/flat%/,$p'
  for f in handle_request render_page checksum Cache::get; do
    rank=$(sed -n '/flat%/,$p' "$profile.top" | tail -n +2 | grep -n "$f" | head -1 | cut -d: -f1 || true)
    echo "  $f: row ${rank:-not in the first 15}"
  done
done
