#!/bin/sh
# Drift: plans refresh-only with read-only credentials, judges what changed
# outside Terraform, writes the reports and, with record, keeps the stream's
# drift ticket in step. Exit 1 when anything drifted (the nightly job shows
# red), 2 when it could not decide.
set -eu
eval "$CG_SCRIPT_UTILS"
cg=$(cg_bin)
tool=${CG_RENDER_WITH:-terraform}
reports=${CG_REPORTS_DIR:-changegate-reports}/drift-${CG_STACK:-default}
mkdir -p "$reports/junit"
reports=$(cd "$reports" && pwd)

cd "${CG_WORKING_DIRECTORY:-.}"
"$tool" init -input=false
"$tool" plan -refresh-only -input=false -lock=false -out changegate-drift.tfplan

set -- drift --plan-file changegate-drift.tfplan --render-with "$tool" \
  --environment "${CG_ENVIRONMENT:?the environment parameter is required}" --stack "${CG_STACK:-default}" \
  --json-out "$reports/drift.json" --sarif-out "$reports/drift.sarif" --junit "$reports/junit/drift.xml" \
  --markdown-out "$reports/drift.md"
if [ -n "${CG_CONFIG:-}" ]; then set -- "$@" --config "$CG_CONFIG"; fi
if cg_true "${CG_RECORD:-1}"; then
  cg_export_from JIRA_BASE_URL "${CG_JIRA_BASE_URL_VAR:-JIRA_BASE_URL}"
  cg_export_from JIRA_USER_EMAIL "${CG_JIRA_USER_EMAIL_VAR:-JIRA_USER_EMAIL}"
  cg_export_from JIRA_API_TOKEN "${CG_JIRA_API_TOKEN_VAR:-JIRA_API_TOKEN}"
  set -- "$@" --record
fi

exec "$cg" "$@"
