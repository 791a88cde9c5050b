#!/bin/sh
# After the deploy, whatever its outcome: records it and closes the ticket.
set -eu
eval "$CG_SCRIPT_UTILS"
cg_jira_and_circleci
cg=$(cg_bin)

set -- close --state "${CG_STATE_FILE:-changegate.json}" --deploy-job "${CG_DEPLOY_JOB:?}"
if [ -n "${CG_TICKET:-}" ]; then set -- "$@" --ticket "$CG_TICKET"; fi
case "${CG_OUTCOME:-auto}" in
  auto) ;;
  success | failure | canceled) set -- "$@" --outcome "$CG_OUTCOME" ;;
  *) cg_die "outcome must be auto, success, failure or canceled, not '$CG_OUTCOME'" ;;
esac
if [ -n "${CG_CONFIG:-}" ]; then set -- "$@" --config "$CG_CONFIG"; fi

exec "$cg" "$@"
