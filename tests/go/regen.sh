#!/usr/bin/env bash
# Regenerates the Go-written fixture profiles: builds each program under
# tests/go/ and runs it, writing .pb.gz files into the directory given
# (default: tests/data). Needs the Go toolchain (apt-get install golang-go).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../data}
mkdir -p "$out"
out=$(cd "$out" && pwd)
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
cd "$here"
for prog in cpu heap goroutine contention; do
  GOFLAGS=-mod=mod go build -trimpath -o "$bin/$prog" "./$prog"
done
"$bin/cpu" "$out/cpu.pb.gz" >/dev/null
"$bin/heap" "$out" >/dev/null
"$bin/goroutine" "$out/goroutine.pb.gz"
"$bin/contention" "$out"
echo "wrote Go fixtures to $out"
