# Shared set-up of the orb's bats tests: the packed orb, the changegate
# binary, and a way to run one orb command as CircleCI would.
# shellcheck shell=bash

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
SHARED=${CHANGEGATE_SHARED_DIR:-$REPO/../shared}
# The shell the changegate image runs steps with (busybox sh); the scripts
# must also work there, not only in bash.
export ORB_TEST_SHELL=${ORB_TEST_SHELL:-busybox sh}

fail_setup() {
  echo "orb tests: $*" >&2
  return 1
}

# Packs orb/src once per file into $BATS_FILE_TMPDIR/orb.yml.
pack_orb() {
  [ -f "$SHARED/circleci/cci_validate.py" ] || fail_setup "the orb packer ($SHARED/circleci/cci_validate.py) is missing"
  python3 "$SHARED/circleci/cci_validate.py" pack "$REPO/orb/src" -o "$BATS_FILE_TMPDIR/orb.yml" >/dev/null
}

# The changegate binary the tests put on PATH.
changegate_bin() {
  local bin=${CHANGEGATE_BIN:-$REPO/target/debug/changegate}
  [ -x "$bin" ] || fail_setup "no changegate binary at $bin (cargo build first)"
  printf '%s\n' "$bin"
}

# run_orb_command ORB COMMAND name=value...: runs the command's steps.
run_orb_command() {
  python3 "$BATS_TEST_DIRNAME/run-command.py" "$@"
}
