#!/usr/bin/env bash
# Runs every fuzz target for a bounded time and prints, per target, the
# executions and what was found. Needs cargo-fuzz (cargo install cargo-fuzz)
# and a toolchain that accepts -Z flags: RUSTC_BOOTSTRAP=1 lets the stable
# one do so for this build only. Not part of .ci/run.
#
# usage: fuzz/run.sh [SECONDS_PER_TARGET [TARGET...]]   (default 300, every target)
# Seeds: the repository's example plan, the evidence record `changegate demo`
# attaches to its ticket, the signed documents of fuzz/seeds/signed (which
# `cargo test` replays, with what this corpus found), and, when ../shared is
# there, the shared plans,
# SARIF files and Jira webhook bodies (copied into the corpus directories
# under fuzz/corpus, which are not committed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
shared=${CHANGEGATE_SHARED_DIR:-$repo/../shared}
secs=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(plan webhook sarif evidence signed)
export RUSTC_BOOTSTRAP=1

seed() { # target files...
  local dir=$here/corpus/$1
  shift
  mkdir -p "$dir"
  for f in "$@"; do [ -f "$f" ] && cp "$f" "$dir/$(sha256sum "$f" | cut -c1-16)"; done
  return 0
}
seed plan "$repo/examples/plan.json" "$shared"/tfplans/*.json
seed sarif "$shared"/contracts/sarif/*/*
seed webhook "$shared"/contracts/jira/webhooks/*
seed signed "$here"/seeds/signed/*
demo=$(mktemp -d)
(cd "$repo" && cargo run -q -- demo --keep "$demo" >/dev/null)
seed evidence "$demo"/site/attachments/*.json
rm -rf "$demo"

cd "$here"
for t in "${targets[@]}"; do
  log=$(mktemp)
  status=0
  cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=1048576 -print_final_stats=1 >"$log" 2>&1 || status=$?
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo "?")
  crashes=$(find "artifacts/$t" -type f 2>/dev/null | wc -l)
  echo "$t: ${secs}s, $execs executions, exit $status, $crashes artifact(s)"
  [ "$status" = 0 ] || tail -40 "$log"
  rm -f "$log"
done
