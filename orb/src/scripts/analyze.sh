#!/bin/sh
# Step 2 for teams that run no bot: collects the evidence and posts the
# analysis on the ticket. It never approves: a person does. A change that
# needs a reviewer (exit 1) passes the step unless fail_on_escalation is set.
set -eu
eval "$CG_SCRIPT_UTILS"
cg_jira_and_circleci
cg_trust
cg_export_from GITHUB_TOKEN "${CG_GITHUB_TOKEN_VAR:-GITHUB_TOKEN}"
cg=$(cg_bin)

set -- analyze --state "${CG_STATE_FILE:-changegate.json}" --format "${CG_FORMAT:-text}"
if [ -n "${CG_TICKET:-}" ]; then set -- "$@" "$CG_TICKET"; fi
if [ -n "${CG_EVIDENCE_FILE:-}" ]; then
  mkdir -p "$(dirname "$CG_EVIDENCE_FILE")"
  set -- "$@" --output "$CG_EVIDENCE_FILE"
fi
# The reports the command stores (JUnit for the Tests tab, markdown and HTML
# as artifacts), in the directory its store steps name.
if [ -n "${CG_REPORTS_DIR:-}" ]; then
  dir="$CG_REPORTS_DIR/analysis"
  set -- "$@" --junit "$dir/junit/analysis.xml" --markdown-out "$dir/analysis.md" --html "$dir/analysis.html"
fi
if [ -n "${CG_CONFIG:-}" ]; then set -- "$@" --config "$CG_CONFIG"; fi
# SARIF files: a comma-separated list of paths.
if [ -n "${CG_SARIF:-}" ]; then
  old_ifs=$IFS
  IFS=,
  for f in $CG_SARIF; do
    IFS=$old_ifs
    f=$(printf '%s' "$f" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
    if [ -n "$f" ]; then set -- "$@" --sarif "$f"; fi
  done
  IFS=$old_ifs
fi

cg_exec_escalating "$cg" "$@"
