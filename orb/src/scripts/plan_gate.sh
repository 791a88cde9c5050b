#!/bin/sh
# Step 3: judges the plan, records its digests on the ticket and escalates a
# risky plan (exit 1); the plan-review hold does the pausing, so the step
# passes on it unless fail_on_escalation (or the older fail_on_risk) is set.
set -eu
eval "$CG_SCRIPT_UTILS"
cg_jira_and_circleci
cg_trust
cg=$(cg_bin)

set -- plan-check --plan-file "${CG_PLAN_FILE:?the plan_file parameter is required}" \
  --render-with "${CG_RENDER_WITH:-terraform}" --stack "${CG_STACK:-default}" --format "${CG_FORMAT:-text}"
if [ -n "${CG_TICKET:-}" ]; then
  set -- "$@" --ticket "$CG_TICKET"
else
  set -- "$@" --state "${CG_STATE_FILE:-changegate.json}"
fi
if [ -n "${CG_HOLD_JOB:-}" ]; then set -- "$@" --hold "$CG_HOLD_JOB"; fi
if [ -n "${CG_ENVIRONMENT:-}" ]; then set -- "$@" --environment "$CG_ENVIRONMENT"; fi
if [ -n "${CG_JSON_OUT:-}" ]; then
  mkdir -p "$(dirname "$CG_JSON_OUT")"
  set -- "$@" --json-out "$CG_JSON_OUT"
fi
# The reports the command stores (JUnit for the Tests tab, markdown and HTML
# as artifacts), in the directory its store steps name.
if [ -n "${CG_REPORTS_DIR:-}" ]; then
  dir="$CG_REPORTS_DIR/plan-${CG_STACK:-default}"
  set -- "$@" --junit "$dir/junit/plan-check.xml" --markdown-out "$dir/plan.md" --html "$dir/plan.html"
fi
if cg_true "${CG_FAIL_ON_RISK:-0}"; then export CG_FAIL_ON_ESCALATION=true; fi
if [ -n "${CG_CONFIG:-}" ]; then set -- "$@" --config "$CG_CONFIG"; fi

cg_exec_escalating "$cg" "$@"
