#!/usr/bin/env bash
# Benchmark: `changegate plan-check` against an earlier build of itself and
# against what a user would otherwise run on the same plan, side by side in
# one run: jq with the naive five-seed-reason filter
# (benches/naive-seed-filter.jq) and `python3 -c json.load`. `openssl dgst
# -sha256` of the same file is the floor for reading and hashing it (the
# plan's digest is part of the report).
#
# Rounds are interleaved (new, baseline, jq, python, openssl, new, ...) so
# the tools share whatever else the machine is doing; medians are reported,
# and ratios, which drift much less than absolute times on a shared machine.
# Wall time, CPU time and peak RSS come from GNU time. Both builds' verdicts
# are checked first: the seed verdict against the generator's expected
# labels, and the two builds' JSON reports against each other (byte for
# byte). With `perf`, the CPU time of each thread of the new build is
# measured too (task-clock samples per thread).
#
# Usage: benches/plan-check.sh [ROUNDS]   (default 5)
#   BASELINE_REV=REV   the baseline's git revision (default: the merge-base
#                      with main), built with `git worktree add` into a
#                      temporary directory with its own target directory;
#   BASELINE_BIN=PATH  or an already built baseline binary (then
#                      BASELINE_REV only labels it).
# Needs: cargo, git, python3, jq, openssl, GNU time (/usr/bin/time), the
# shared corpus; perf is optional.
set -euo pipefail

rounds=${1:-5}
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${CHANGEGATE_SHARED_DIR:-$repo/../shared}
gen=$shared/tfplans/gen_large_plan.py
for tool in git python3 jq openssl /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "benchmark needs $tool" >&2; exit 2; }
done
[ -f "$gen" ] || { echo "benchmark needs $gen (the shared corpus)" >&2; exit 2; }

work=$(mktemp -d)
cleanup() {
  if [ -d "$work/base-src" ]; then git -C "$repo" worktree remove --force "$work/base-src" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "building the release binary..." >&2
(cd "$repo" && cargo build --release --quiet)
bin=$repo/target/release/changegate

base_rev=${BASELINE_REV:-$(git -C "$repo" merge-base HEAD main)}
base_rev=$(git -C "$repo" rev-parse --short "$base_rev")
if [ -n "${BASELINE_BIN:-}" ]; then
  base=$(realpath "$BASELINE_BIN")
  echo "baseline: $base (labelled $base_rev)" >&2
else
  echo "building the baseline $base_rev (its own worktree and target directory)..." >&2
  git -C "$repo" worktree add --quiet --detach "$work/base-src" "$base_rev"
  (cd "$work/base-src" && cargo build --release --quiet --target-dir "$work/base-target")
  base=$work/base-target/release/changegate
fi

echo "generating the plans..." >&2
python3 "$gen" --out "$work/plan.json" 2>&1 | sed 's/^/  /' >&2
python3 "$gen" --out "$work/plan-indented.json" --indent 2 2>&1 | sed 's/^/  /' >&2

# Verdicts first: the speed of a wrong answer does not count.
for plan in plan.json plan-indented.json; do
  for who in new base; do
    exe=$bin
    [ "$who" = base ] && exe=$base
    set +e
    "$exe" plan-check --format json "$work/$plan" > "$work/$who-$plan.report"
    code=$?
    set -e
    [ "$code" = 1 ] || { echo "$who on $plan: expected exit 1 (risky), got $code" >&2; exit 2; }
  done
  cmp -s "$work/new-$plan.report" "$work/base-$plan.report" \
    || { echo "the new and the baseline reports on $plan differ" >&2; exit 2; }
  python3 - "$work/new-$plan.report" "$work/$plan.expected.json" <<'PY'
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
print(f"verdict: {len(got)} risky addresses with seed reasons, equal to the expected labels; "
      "both builds' reports identical", file=sys.stderr)
PY
done

measure() { # label command...
  local label=$1; shift
  /usr/bin/time -f "$label %e %U %S %M" -a -o "$work/times" "$@" > /dev/null 2>&1 || true
}

echo "running $rounds interleaved rounds..." >&2
for plan in plan.json plan-indented.json; do
  for _ in $(seq "$rounds"); do
    measure "new:$plan" "$bin" plan-check --format json "$work/$plan"
    measure "base:$plan" "$base" plan-check --format json "$work/$plan"
    measure "jq:$plan" jq -f "$repo/benches/naive-seed-filter.jq" "$work/$plan"
    measure "python:$plan" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$work/$plan"
    measure "openssl:$plan" openssl dgst -sha256 "$work/$plan"
  done
done

# CPU time per thread of the new build: the parsing (main) thread and the
# reading+hashing thread, from task-clock samples; the median of three runs.
: > "$work/threads"
if command -v perf >/dev/null && perf record -q -o "$work/probe.data" -e task-clock true >/dev/null 2>&1; then
  for plan in plan.json plan-indented.json; do
    for _ in 1 2 3; do
      perf record -q -o "$work/perf.data" -e task-clock -- "$bin" plan-check --format json "$work/$plan" \
        > /dev/null 2>&1 || true
      # One line per thread: "pid:comm period"; the main thread's id is the pid.
      perf report -i "$work/perf.data" --stdio --sort pid -F period,pid 2>/dev/null \
        | awk -v plan="$plan" '!/^#/ && NF { split($2, p, ":"); print plan, p[1], $1 }' >> "$work/threads" || true
      echo "--" >> "$work/threads"
    done
  done
fi

python3 - "$work/times" "$work/threads" "$work" "$rounds" "$base_rev" <<'PY'
import os, statistics, sys
times, threads, work, rounds, base_rev = sys.argv[1:6]
rows = {}
for line in open(times):
    # GNU time also writes "Command exited with non-zero status N" lines.
    if line.startswith("Command exited"):
        continue
    label, wall, user, sys_, rss = line.split()
    rows.setdefault(label, []).append((float(wall), float(user) + float(sys_), int(rss)))
print(f"rounds: {rounds} (interleaved); medians of wall and CPU (user+sys) time; "
      "peak RSS is the largest of the rounds\n")
for plan in ["plan.json", "plan-indented.json"]:
    size = os.path.getsize(os.path.join(work, plan)) / 1e6
    med = lambda tool, i: statistics.median(r[i] for r in rows[f"{tool}:{plan}"])
    print(f"### {plan} ({size:.1f} MB)\n")
    print("| tool | wall (median) | CPU (median) | peak RSS | jq / tool (wall) |")
    print("|---|---:|---:|---:|---:|")
    jq = med("jq", 0)
    for tool, name in [("new", "changegate plan-check (this build)"),
                       ("base", f"changegate plan-check ({base_rev})"),
                       ("jq", "jq naive seed filter"),
                       ("python", "python3 json.load"),
                       ("openssl", "openssl dgst -sha256 (hashing floor)")]:
        rss = max(r[2] for r in rows[f"{tool}:{plan}"]) / 1024
        print(f"| {name} | {med(tool, 0):.3f} s | {med(tool, 1):.3f} s | {rss:.1f} MB | {jq / med(tool, 0):.1f}x |")
    print(f"\nthis build vs {base_rev}: {med('base', 0) / med('new', 0):.2f}x faster (wall), "
          f"{med('base', 1) / med('new', 1):.2f}x less CPU\n")

runs = {}
run = []
for line in open(threads):
    if line.strip() == "--":
        if run:
            plan = run[0][0]
            main = [r for r in run if r[1] == min(x[1] for x in run)]
            # The main thread has the lowest id (the pid); the others read.
            parser = sum(r[2] for r in main)
            reader = sum(r[2] for r in run) - parser
            runs.setdefault(plan, []).append((parser / 1e9, reader / 1e9))
        run = []
        continue
    plan, tid, period = line.split()
    run.append((plan, int(tid), int(period)))
if runs:
    print("CPU time per thread of this build (perf task-clock samples, median of 3 runs):\n")
    print("| plan | parsing thread | reading+hashing thread |")
    print("|---|---:|---:|")
    for plan, r in runs.items():
        print(f"| {plan} | {statistics.median(x[0] for x in r):.3f} s | {statistics.median(x[1] for x in r):.3f} s |")
else:
    print("(perf not available: no per-thread CPU times)")
PY
