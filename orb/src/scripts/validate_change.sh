#!/bin/sh
# Before plan and before apply: passes only when the ticket is approved for
# exactly this build (and, before apply, for exactly the reviewed plan).
set -eu
eval "$CG_SCRIPT_UTILS"
cg_jira_and_circleci
cg_trust
cg=$(cg_bin)

set -- validate --state "${CG_STATE_FILE:-changegate.json}" --stack "${CG_STACK:-default}" \
  --environment "${CG_ENVIRONMENT:?the environment parameter is required}"
if [ -n "${CG_TICKET:-}" ]; then set -- "$@" --ticket "$CG_TICKET"; fi
case "${CG_STAGE:-auto}" in
  plan | apply) set -- "$@" --stage "$CG_STAGE" ;;
esac
if [ -n "${CG_PLAN_FILE:-}" ]; then
  set -- "$@" --plan-file "$CG_PLAN_FILE" --render-with "${CG_RENDER_WITH:-terraform}"
fi
# The JUnit report the command stores for the Tests tab, in the directory its
# store step names.
if [ -n "${CG_REPORTS_DIR:-}" ]; then
  set -- "$@" --junit "$CG_REPORTS_DIR/validate-${CG_STAGE:-auto}-${CG_STACK:-default}/junit/validate.xml"
fi
if [ -n "${CG_CONFIG:-}" ]; then set -- "$@" --config "$CG_CONFIG"; fi

exec "$cg" "$@"
