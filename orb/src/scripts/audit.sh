#!/bin/sh
# The monthly inspection of auto-approvals: samples, re-decides and
# re-collects, posts the inspection on the period's ticket, and fails the
# step on any finding (exit 1).
set -eu
eval "$CG_SCRIPT_UTILS"
cg_jira_and_circleci
cg_export_from GITHUB_TOKEN "${CG_GITHUB_TOKEN_VAR:-GITHUB_TOKEN}"
cg_export_from CHANGEGATE_RECEIPT_PUBKEY "${CG_RECEIPT_PUBKEY_VAR:-CHANGEGATE_RECEIPT_PUBKEY}" optional
cg=$(cg_bin)

set -- audit --since "${CG_SINCE:-previous-month}" --sample "${CG_SAMPLE:?the sample parameter is required}"
if [ -n "${CG_SEED:-}" ]; then set -- "$@" --seed "$CG_SEED"; fi
if cg_true "${CG_POST:-0}"; then
  set -- "$@" --post
  if [ -n "${CG_PERIOD:-}" ]; then set -- "$@" --period "$CG_PERIOD"; fi
  if [ -n "${CG_ISSUE_TYPE:-}" ]; then set -- "$@" --issue-type "$CG_ISSUE_TYPE"; fi
fi
# The reports the command stores (JUnit for the Tests tab, markdown and JSON
# as artifacts), in the directory its store steps name.
if [ -n "${CG_REPORTS_DIR:-}" ]; then
  dir="$CG_REPORTS_DIR/audit"
  set -- "$@" --junit "$dir/junit/audit.xml" --markdown-out "$dir/audit.md" --json-out "$dir/audit.json"
fi
if [ -n "${CG_CONFIG:-}" ]; then set -- "$@" --config "$CG_CONFIG"; fi

exec "$cg" "$@"
