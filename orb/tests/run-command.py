#!/usr/bin/env python3
"""Runs one command of a packed orb the way CircleCI would: each `run` step's
`<< parameters.x >>` references are replaced by the given arguments (or the
parameter defaults), its environment is set, and its command is run by sh.
Conditional `when`/`unless` steps are expanded on their condition; after a
step fails, only steps marked `when: always` (or `on_fail`) run, as in a job.
`store_test_results` and `store_artifacts` steps store nothing: each is
written as a JSON line (step, path, destination, the files found there) to
the file named by ORB_TEST_STORED, when it is set, for the tests to check.

usage: run-command.py ORB.yml COMMAND [name=value ...]

Exit status: the first failing step's, else 0. Other step types are refused."""
import json
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

    def truthy(condition):
        if isinstance(condition, dict):
            (op, arg), = condition.items()
            if op == "and":
                return all(truthy(c) for c in arg)
            if op == "or":
                return any(truthy(c) for c in arg)
            if op == "not":
                return not truthy(arg)
            if op == "equal":
                return len({render(a) for a in arg}) == 1
            sys.exit(f"run-command.py: unsupported condition {op!r}")
        if isinstance(condition, bool):
            return condition
        return render(condition) not in ("", "false", "0")

    def expand(steps):
        for step in steps:
            (kind, body), = step.items()
            if kind == "when":
                if truthy(body["condition"]):
                    yield from expand(body["steps"])
            elif kind == "unless":
                if not truthy(body["condition"]):
                    yield from expand(body["steps"])
            else:
                yield kind, body

    failed = 0
    for kind, body in expand(spec["steps"]):
        when = body.get("when", "on_success") if isinstance(body, dict) else "on_success"
        if (failed and when not in ("always", "on_fail")) or (not failed and when == "on_fail"):
            continue
        if kind == "run":
            env = dict(os.environ)
            env.update({k: render(v) for k, v in (body.get("environment") or {}).items()})
            shell = os.environ.get("ORB_TEST_SHELL", "sh").split()
            code = subprocess.call([*shell, "-eo", "pipefail", "-c", render(body["command"])], env=env)
            failed = failed or code
        elif kind in ("store_test_results", "store_artifacts"):
            path = render(body["path"])
            files = sorted(
                os.path.relpath(os.path.join(d, f), path) for d, _, fs in os.walk(path) for f in fs
            ) if os.path.isdir(path) else ([os.path.basename(path)] if os.path.isfile(path) else [])
            record = {"step": kind, "path": path, "destination": render(body.get("destination", "")), "files": files}
            if os.environ.get("ORB_TEST_STORED"):
                with open(os.environ["ORB_TEST_STORED"], "a", encoding="utf-8") as out:
                    out.write(json.dumps(record) + "\n")
        else:
            sys.exit(f"run-command.py: {command} has a {kind!r} step, which this runner does not support")
    return failed


if __name__ == "__main__":
    sys.exit(main())
