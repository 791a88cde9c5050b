#!/usr/bin/env bash
# Size of the changegate image and what it is made of, and how fast the
# binary starts beside busybox's `true` (the floor for starting a static
# program). Builds the image with docker/build.sh (buildah, vfs).
#
# usage: benches/image.sh [BINARY]   (default: the musl release build,
#        cargo build --release --target x86_64-unknown-linux-musl; give a
#        copy of another build to compare two side by side)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(mktemp -d)
bin=$(realpath "${1:-$repo/target/x86_64-unknown-linux-musl/release/changegate}")
# Its own tag, removed afterwards: the measured image is only the saved archive.
tag=localhost/changegate-bench:measure
trap 'rm -rf "$out"; buildah --storage-driver "${BUILDAH_STORAGE_DRIVER:-vfs}" rmi "$tag" >/dev/null 2>&1 || true' EXIT

"$repo/docker/build.sh" --binary "$bin" --tag "$tag" --save "$out" >/dev/null
gz() { gzip -9 -c "$1" | wc -c; }
printf '| part | bytes | gzip -9 bytes |\n|---|---:|---:|\n'
printf '| changegate (static musl) | %s | %s |\n' "$(stat -c %s "$bin")" "$(gz "$bin")"
printf '| busybox (static) | %s | %s |\n' "$(stat -c %s /bin/busybox)" "$(gz /bin/busybox)"
printf '| CA bundle | %s | %s |\n' "$(stat -c %s /etc/ssl/certs/ca-certificates.crt)" "$(gz /etc/ssl/certs/ca-certificates.crt)"
printf '| **image** (podman save --format oci-archive, gzip -9) | %s | **%s** |\n' \
  "$(gunzip -c "$out/changegate-image.oci.tar.gz" | wc -c)" "$(stat -c %s "$out/changegate-image.oci.tar.gz")"

# Start-up: 200 runs each, interleaved in blocks so machine noise hits both.
runs=200
t_cg=0 t_bb=0
for _ in 1 2 3 4; do
  s=$(date +%s%N); for _ in $(seq $((runs / 4))); do "$bin" --version >/dev/null; done; e=$(date +%s%N)
  t_cg=$((t_cg + e - s))
  s=$(date +%s%N); for _ in $(seq $((runs / 4))); do /bin/busybox true; done; e=$(date +%s%N)
  t_bb=$((t_bb + e - s))
done
printf '\nstart-up (mean of %d runs): changegate --version %d us, busybox true %d us, ratio %s\n' \
  "$runs" $((t_cg / runs / 1000)) $((t_bb / runs / 1000)) "$(awk -v a="$t_cg" -v b="$t_bb" 'BEGIN{printf "%.2f", a/b}')"
