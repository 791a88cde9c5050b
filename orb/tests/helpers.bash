# Shared set-up of the orb's bats tests: the packed orb, the changegate
# binary, and a way to run one orb command as CircleCI would.
# shellcheck shell=bash

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
SHARED=${CHANGEGATE_SHARED_DIR:-$REPO/../shared}
# The shell the changegate image runs steps with (busybox sh); the scripts
# must also work there, not only in bash.
export ORB_TEST_SHELL=${ORB_TEST_SHELL:-busybox sh}
# The Python of the caller's PATH (where .ci/run installs junitparser),
# found before a test narrows PATH.
PYTHON3=${PYTHON3:-$(command -v python3)}

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

# junit_counts FILE: "TESTS FAILURES ERRORS" of a JUnit XML file, read with
# PyPI's junitparser; without the package the test fails, naming it.
junit_counts() {
  "$PYTHON3" - "$1" <<'PY'
import sys
try:
    import junitparser
except ImportError:
    sys.exit("the Python package junitparser is not installed: pip install junitparser (.ci/run installs it)")
xml = junitparser.JUnitXml.fromfile(sys.argv[1])
cases = [c for s in xml for c in s]
tag = lambda t: sum(1 for c in cases for r in c.result if r._tag == t)
print(len(cases), tag("failure"), tag("error"))
PY
}

# stored_files STEP PATH: the files the command's STEP (store_test_results or
# store_artifacts) found under PATH, one a line, from $ORB_TEST_STORED; fails
# when no such step ran.
stored_files() {
  python3 - "$ORB_TEST_STORED" "$1" "$2" <<'PY'
import json, sys
records = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
found = [r for r in records if r["step"] == sys.argv[2] and r["path"] == sys.argv[3]]
if not found:
    sys.exit(f"no {sys.argv[2]} of {sys.argv[3]} in {records}")
print("\n".join(found[-1]["files"]))
PY
}
