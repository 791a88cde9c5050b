#!/usr/bin/env bash
# Renders the HTML reports the orb stores as artifacts and takes screenshots
# of them in headless Chromium, kept in docs/: the plan check of the shipped
# example plan (docs/plan-report.png) and the analysis of the demo's deploy
# (docs/analysis-report.png). A documentation step, not part of CI: it needs
# Chromium (Debian: apt-get install chromium).
#
#   docs/render-report.sh [--keep DIR]     # DIR keeps the HTML files
set -euo pipefail
cd "$(dirname "$0")/.."

keep=""
if [ "${1:-}" = --keep ]; then keep=${2:?--keep needs a directory}; fi
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "render-report.sh: no Chromium found (Debian: apt-get install chromium)" >&2; exit 2; }

cargo build --quiet
cg=$PWD/target/debug/changegate
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=${keep:-$work}
mkdir -p "$out"

# The plan check of the example plan (exit 1: it is risky).
"$cg" plan-check examples/plan.json --stack network --html "$out/plan.html" >/dev/null || [ $? -eq 1 ]

# The analysis of the demo's deploy, re-decided offline from its evidence
# record (exit 1: a person must approve), linked to its ticket.
"$cg" demo --keep "$work/demo" >/dev/null
record=$(ls "$work"/demo/changegate-evidence-*.json | head -n1)
JIRA_BASE_URL=https://acme.atlassian.net "$cg" decide "$record" --html "$out/analysis.html" >/dev/null || [ $? -eq 1 ]

shot() { # html png height
  "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --window-size="1200,$3" --screenshot="$2" "file://$1" 2>/dev/null
  [ -s "$2" ] || { echo "render-report.sh: Chromium wrote no $2" >&2; exit 1; }
  echo "wrote $2"
}
shot "$out/plan.html" "$PWD/docs/plan-report.png" 980
shot "$out/analysis.html" "$PWD/docs/analysis-report.png" 1120
