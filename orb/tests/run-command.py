#!/usr/bin/env python3
"""Runs one command of a packed orb the way CircleCI would: each `run` step's
`<< parameters.x >>` references are replaced by the given arguments (or the
parameter defaults), its environment is set, and its command is run by sh.

usage: run-command.py ORB.yml COMMAND [name=value ...]

Exit status: the first failing step's, else 0. `run` steps run; steps that
hand files to CircleCI (`store_artifacts`, `store_test_results`) are checked
to name a path and to run `when: always`, and are otherwise skipped."""
import os
import re
import subprocess
import sys

import yaml


def main() -> int:
    orb_path, command, *pairs = sys.argv[1:]
    with open(orb_path, encoding="utf-8") as f:
        orb = yaml.safe_load(f)
    spec = orb["commands"][command]
    declared = spec.get("parameters", {})
    args = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in declared:
            sys.exit(f"run-command.py: {command} has no parameter {name!r} (declared: {sorted(declared)})")
        args[name] = value
    for name, p in declared.items():
        if name not in args:
            if "default" not in p:
                sys.exit(f"run-command.py: {command} needs the parameter {name!r}")
            args[name] = p["default"]

    def render(value):
        def one(m):
            v = args[m.group(1)]
            if isinstance(v, bool):
                return "true" if v else "false"
            return str(v)
        text = re.sub(r"<<\s*parameters\.([a-z0-9_]+)\s*>>", one, str(value))
        # orb pack escapes << in included scripts as \<<.
        return text.replace("\\<<", "<<")

    for step in spec["steps"]:
        stored = next((step[k] for k in ("store_artifacts", "store_test_results") if k in step), None)
        if stored is not None:
            if not stored.get("path") or stored.get("when") != "always":
                sys.exit(f"run-command.py: {command}: {step} must name a path and run when: always")
            continue
        run = step["run"]
        env = dict(os.environ)
        env.update({k: render(v) for k, v in (run.get("environment") or {}).items()})
        shell = os.environ.get("ORB_TEST_SHELL", "sh").split()
        code = subprocess.call([*shell, "-eo", "pipefail", "-c", render(run["command"])], env=env)
        if code != 0:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
