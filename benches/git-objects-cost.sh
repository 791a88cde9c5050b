#!/usr/bin/env bash
# What the optional `git-objects` feature costs: wall time of a release musl
# build from scratch (separate target directories, so nothing is shared) and
# the size of the static binary, without and with the feature, side by side.
#
#   benches/git-objects-cost.sh [WORKDIR]
#
# Takes about ten minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
target=x86_64-unknown-linux-musl
printf '| build | wall time | binary size |\n|---|---:|---:|\n'
for variant in default git-objects; do
  dir="$work/$variant"
  rm -rf "$dir"
  args=(--release --target "$target" --target-dir "$dir")
  [ "$variant" = git-objects ] && args+=(--features git-objects)
  start=$(date +%s)
  cargo build "${args[@]}" >"$work/$variant.log" 2>&1 || { tail -20 "$work/$variant.log"; exit 1; }
  end=$(date +%s)
  size=$(stat -c %s "$dir/$target/release/changegate")
  printf '| %s | %d s | %s bytes |\n' "$variant" $((end - start)) "$size"
done
