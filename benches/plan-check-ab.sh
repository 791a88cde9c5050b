#!/usr/bin/env bash
# Benchmark: two builds of `changegate plan-check` side by side on the same
# large plan, written as Terraform writes it (UTF-8, one line) and as
# PowerShell's `>` writes it (UTF-16 LE with a byte-order mark), to decide
# whether a change to the reader (e.g. its decoder) costs anything.
#
# Both builds must give byte-identical JSON reports and exit 1 (risky) on
# both files first. Rounds are interleaved (A, B, A, B, ...) so the builds
# share whatever else the machine is doing; medians of wall and user CPU
# time, and the largest peak RSS, come from GNU time.
#
# Usage: benches/plan-check-ab.sh BINARY_A BINARY_B [ROUNDS]   (default 7)
# Build each binary with `cargo build --release` (as benches/plan-check.sh
# does) and copy it aside between the two builds.
# Needs: python3, GNU time (/usr/bin/time), the shared corpus.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 BINARY_A BINARY_B [ROUNDS]" >&2; exit 2; }
a=$(realpath "$1") b=$(realpath "$2") rounds=${3:-7}
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${CHANGEGATE_SHARED_DIR:-$repo/../shared}
gen=$shared/tfplans/gen_large_plan.py
for tool in python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "benchmark needs $tool" >&2; exit 2; }
done
[ -f "$gen" ] || { echo "benchmark needs $gen (the shared corpus)" >&2; exit 2; }
[ -x "$a" ] && [ -x "$b" ] || { echo "both binaries must exist and be executable" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "generating the plans..." >&2
python3 "$gen" --out "$work/utf8.json" 2>&1 | sed 's/^/  /' >&2
python3 - "$work/utf8.json" "$work/utf16le-bom.json" <<'PY'
import sys
with open(sys.argv[1], encoding="utf-8") as src, open(sys.argv[2], "w", encoding="utf-16") as dst:
    # Python's "utf-16" writes a BOM and the machine's order (LE here).
    while chunk := src.read(1 << 20):
        dst.write(chunk)
PY
head -c 2 "$work/utf16le-bom.json" | od -An -tx1 | grep -q 'ff fe' || { echo "not UTF-16 LE with a BOM" >&2; exit 2; }

# Same answer first: the speed of a different answer does not count.
for plan in utf8.json utf16le-bom.json; do
  for bin in a b; do
    set +e
    "${!bin}" plan-check --format json "$work/$plan" > "$work/$bin-$plan.report"
    code=$?
    set -e
    [ "$code" = 1 ] || { echo "$bin on $plan: expected exit 1 (risky), got $code" >&2; exit 2; }
  done
  cmp -s "$work/a-$plan.report" "$work/b-$plan.report" || { echo "the reports on $plan differ" >&2; exit 2; }
done
echo "verdict: both builds give the same report on both encodings" >&2

measure() { # label command...
  local label=$1; shift
  /usr/bin/time -f "$label %e %U %M" -a -o "$work/times" "$@" > /dev/null 2>&1 || true
}
for _ in $(seq "$rounds"); do
  for plan in utf8.json utf16le-bom.json; do
    measure "a:$plan" "$a" plan-check --format json "$work/$plan"
    measure "b:$plan" "$b" plan-check --format json "$work/$plan"
  done
done

python3 - "$work/times" "$work" "$rounds" "$a" "$b" <<'PY'
import os, statistics, sys
times, work, rounds, a, b = sys.argv[1:6]
rows = {}
for line in open(times):
    if line.startswith("Command exited"):
        continue
    label, wall, user, rss = line.split()
    rows.setdefault(label, []).append((float(wall), float(user), int(rss)))
print(f"A = {a}\nB = {b}\nrounds: {rounds} (interleaved); medians of wall and user CPU time; peak RSS is the largest\n")
print("| plan | A wall | B wall | B/A wall | A user | B user | B/A user | A RSS | B RSS |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for plan, name in [("utf8.json", "UTF-8"), ("utf16le-bom.json", "UTF-16 LE + BOM")]:
    size = os.path.getsize(os.path.join(work, plan)) / 1e6
    med = lambda who, i: statistics.median(r[i] for r in rows[f"{who}:{plan}"])
    rss = lambda who: max(r[2] for r in rows[f"{who}:{plan}"]) / 1024
    print(f"| {name}, {size:.1f} MB | {med('a', 0):.2f} s | {med('b', 0):.2f} s | {med('b', 0) / med('a', 0):.3f} "
          f"| {med('a', 1):.2f} s | {med('b', 1):.2f} s | {med('b', 1) / med('a', 1):.3f} | {rss('a'):.0f} MB | {rss('b'):.0f} MB |")
PY
