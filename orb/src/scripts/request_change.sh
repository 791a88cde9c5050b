#!/bin/sh
# Step 1: finds the approved ticket bound to this build, or creates one, and
# writes the state file later jobs read.
set -eu
eval "$CG_SCRIPT_UTILS"
cg_jira_and_circleci
cg_trust
cg=$(cg_bin)

set -- request \
  --environment "${CG_ENVIRONMENT:?}" \
  --build-job "${CG_BUILD_JOB:?}" \
  --action "${CG_ACTION:-apply}" \
  --pipeline-id "${CG_PIPELINE_ID:?}" \
  --pipeline-number "${CG_PIPELINE_NUMBER:?}" \
  --output "${CG_STATE_FILE:-changegate.json}"
if [ -n "${CG_HOLD_JOB:-}" ]; then set -- "$@" --hold "$CG_HOLD_JOB"; fi
if [ -n "${CG_TICKET:-}" ]; then set -- "$@" --ticket "$CG_TICKET"; fi
if [ -n "${CG_SUMMARY:-}" ]; then set -- "$@" --summary "$CG_SUMMARY"; fi
if [ -n "${CG_JUSTIFICATION:-}" ]; then set -- "$@" --justification "$CG_JUSTIFICATION"; fi
if [ -n "${CG_ROLLBACK_PLAN:-}" ]; then set -- "$@" --rollback-plan "$CG_ROLLBACK_PLAN"; fi
if [ -n "${CG_SERVICE:-}" ]; then set -- "$@" --service "$CG_SERVICE"; fi
if [ -n "${CG_EMERGENCY_REASON:-}" ]; then set -- "$@" --emergency --reason "$CG_EMERGENCY_REASON"; fi
if [ -n "${CG_CONFIG:-}" ]; then set -- "$@" --config "$CG_CONFIG"; fi

exec "$cg" "$@"
