#!/usr/bin/env bash
# Benchmark: `changegate plan-check` against what a user would otherwise run
# on the same plan, side by side in one run: jq with the naive five-seed-reason
# filter (benches/naive-seed-filter.jq) and `python3 -c json.load`.
#
# Rounds are interleaved (changegate, jq, python, changegate, ...) so the
# tools share whatever else the machine is doing; medians are reported.
# Wall time and peak RSS come from GNU time. The changegate verdict is
# checked against the generator's expected labels.
#
# Usage: benches/plan-check.sh [ROUNDS]   (default 5)
# Needs: cargo, python3, jq, GNU time (/usr/bin/time), the shared corpus.
set -euo pipefail

rounds=${1:-5}
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${CHANGEGATE_SHARED_DIR:-$repo/../shared}
gen=$shared/tfplans/gen_large_plan.py
for tool in python3 jq /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "benchmark needs $tool" >&2; exit 2; }
done
[ -f "$gen" ] || { echo "benchmark needs $gen (the shared corpus)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building the release binary..." >&2
(cd "$repo" && cargo build --release --quiet)
bin=$repo/target/release/changegate

echo "generating the plans..." >&2
python3 "$gen" --out "$work/plan.json" 2>&1 | sed 's/^/  /' >&2
python3 "$gen" --out "$work/plan-indented.json" --indent 2 2>&1 | sed 's/^/  /' >&2

# Verdict first: the speed of a wrong answer does not count.
set +e
"$bin" plan-check --format json "$work/plan.json" > "$work/report.json"
code=$?
set -e
[ "$code" = 1 ] || { echo "expected exit 1 (risky), got $code" >&2; exit 2; }
python3 - "$work/report.json" "$work/plan.json.expected.json" <<'PY'
import json, sys
seed = {"delete", "policy", "iam", "attachment", "security_group"}
report, expected = (json.load(open(p)) for p in sys.argv[1:3])
got = {}
for f in report["findings"]:
    s = sorted(set(f["reasons"]) & seed)
    if s:
        got[f["address"]] = s
exp = {k: sorted(v) for k, v in expected["risky_resources"].items()}
if got != exp:
    sys.exit(f"seed verdict differs from the expected labels: {len(got)} vs {len(exp)} addresses")
print(f"verdict: {len(got)} risky addresses with seed reasons, equal to the expected labels", file=sys.stderr)
PY

measure() { # label command...
  local label=$1; shift
  /usr/bin/time -f "$label %e %M" -a -o "$work/times" "$@" > /dev/null 2>&1 || true
}

for plan in plan.json plan-indented.json; do
  for _ in $(seq "$rounds"); do
    measure "changegate:$plan" "$bin" plan-check --format json "$work/$plan"
    measure "jq:$plan" jq -f "$repo/benches/naive-seed-filter.jq" "$work/$plan"
    measure "python:$plan" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$work/$plan"
  done
done

python3 - "$work/times" "$work" "$rounds" <<'PY'
import os, statistics, sys
times, work, rounds = sys.argv[1], sys.argv[2], sys.argv[3]
rows = {}
for line in open(times):
    # GNU time also writes "Command exited with non-zero status N" lines.
    if line.startswith("Command exited"):
        continue
    label, wall, rss = line.split()
    rows.setdefault(label, []).append((float(wall), int(rss)))
print(f"rounds: {rounds} (interleaved); median wall time; peak RSS is the largest of the rounds\n")
for plan in ["plan.json", "plan-indented.json"]:
    size = os.path.getsize(os.path.join(work, plan)) / 1e6
    print(f"### {plan} ({size:.1f} MB)\n")
    print("| tool | wall (median) | peak RSS | changegate is faster by |")
    print("|---|---:|---:|---:|")
    cg = statistics.median(w for w, _ in rows[f"changegate:{plan}"])
    for tool, name in [("changegate", "changegate plan-check"), ("jq", "jq naive seed filter"), ("python", "python3 json.load")]:
        r = rows[f"{tool}:{plan}"]
        wall = statistics.median(w for w, _ in r)
        rss = max(m for _, m in r) / 1024
        ratio = "" if tool == "changegate" else f"{wall / cg:.1f}x"
        print(f"| {name} | {wall:.2f} s | {rss:.0f} MB | {ratio} |")
    print()
PY
