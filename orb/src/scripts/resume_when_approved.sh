#!/bin/sh
# Beside a hold, for teams that run no bot: waits a bounded time for a person
# to approve the ticket, then resumes the hold. It never approves a ticket.
set -eu
eval "$CG_SCRIPT_UTILS"
cg_jira_and_circleci
cg_trust
cg=$(cg_bin)

set -- resume --state "${CG_STATE_FILE:-changegate.json}" --hold "${CG_HOLD_JOB:?}" \
  --timeout "${CG_TIMEOUT:-30m}" --interval "${CG_INTERVAL:-30s}"
if [ -n "${CG_TICKET:-}" ]; then set -- "$@" --ticket "$CG_TICKET"; fi
if [ -n "${CG_STACK:-}" ]; then set -- "$@" --stack "$CG_STACK"; fi
if [ -n "${CG_CONFIG:-}" ]; then set -- "$@" --config "$CG_CONFIG"; fi

exec "$cg" "$@"
