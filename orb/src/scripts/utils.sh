#!/bin/sh
# Helpers shared by the orb's scripts. Each command passes this file as
# CG_SCRIPT_UTILS and its script evaluates it first, so the scripts stay POSIX
# sh: they run in the changegate image (busybox sh) and in users' own
# executors (Alpine-based Terraform images, Debian-based cimg images).

# Stops the step: exit 2 is "could not decide", never a pass.
cg_die() {
  printf 'changegate orb: %s\n' "$*" >&2
  exit 2
}

# True for the ways a boolean parameter arrives (1, true).
cg_true() {
  case "${1:-}" in
    1 | true | True | TRUE) return 0 ;;
    *) return 1 ;;
  esac
}

# cg_export_from TARGET SOURCE [optional]: exports TARGET with the value of
# the environment variable named SOURCE (an env_var_name parameter). The value
# is never printed; a missing required value stops the step.
cg_export_from() {
  cg_target=$1
  cg_source=$2
  case "$cg_source" in
    '' | [!A-Za-z_]* | *[!A-Za-z0-9_]*) cg_die "'$cg_source' is not an environment variable name" ;;
  esac
  eval "cg_value=\${$cg_source:-}"
  if [ -z "$cg_value" ]; then
    [ "${3:-}" = optional ] && return 0
    cg_die "the environment variable $cg_source is not set: add it to a context or the project settings"
  fi
  export "$cg_target=$cg_value"
  unset cg_value
}

# The Jira and CircleCI credentials every command that reads the ticket needs.
cg_jira_and_circleci() {
  cg_export_from JIRA_BASE_URL "${CG_JIRA_BASE_URL_VAR:-JIRA_BASE_URL}"
  cg_export_from JIRA_USER_EMAIL "${CG_JIRA_USER_EMAIL_VAR:-JIRA_USER_EMAIL}"
  cg_export_from JIRA_API_TOKEN "${CG_JIRA_API_TOKEN_VAR:-JIRA_API_TOKEN}"
  cg_export_from CIRCLE_TOKEN "${CG_CIRCLE_TOKEN_VAR:-CIRCLE_TOKEN}"
}

# Where trust comes from: the bot's public keys (changegate names the variable
# when they are missing), or no bot at all when the command says so.
cg_trust() {
  cg_export_from CHANGEGATE_RECEIPT_PUBKEY "${CG_RECEIPT_PUBKEY_VAR:-CHANGEGATE_RECEIPT_PUBKEY}" optional
  if cg_true "${CG_WITHOUT_BOT:-0}"; then
    export CHANGEGATE_NO_BOT=1
  else
    unset CHANGEGATE_NO_BOT
  fi
}

# Prints the path of the changegate binary: on PATH, or where `install` puts
# it when the default directory is not writable.
cg_bin() {
  if command -v changegate >/dev/null 2>&1; then
    command -v changegate
  elif [ -x "${HOME:-/nonexistent}/.local/bin/changegate" ]; then
    printf '%s\n' "$HOME/.local/bin/changegate"
  else
    cg_die "the changegate binary is not installed: run the install command first"
  fi
}

# cg_exec_escalating COMMAND ARGS...: runs a changegate command whose exit 1
# means "escalated: a person must decide" (plan-check of a risky plan,
# analyze of a change that needs a reviewer). Unless fail_on_escalation is
# set, 1 ends the step successfully, so the workflow reaches the hold where
# that person decides; 0 and 2 (could not decide) pass through unchanged.
cg_exec_escalating() {
  cg_status=0
  "$@" || cg_status=$?
  if [ "$cg_status" -eq 1 ] && ! cg_true "${CG_FAIL_ON_ESCALATION:-0}"; then
    printf '%s
' "changegate orb: exit 1, escalated to a person: this step passes so the workflow reaches the hold where they decide (fail_on_escalation: true fails it instead)" >&2
    exit 0
  fi
  exit "$cg_status"
}
