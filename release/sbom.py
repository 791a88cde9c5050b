#!/usr/bin/env python3
"""Writes a CycloneDX 1.5 SBOM (JSON) of the crates compiled into the
changegate binary: the normal (not build or dev) dependencies reachable from
the package with its default features, for the release target.

usage: sbom.py [--target TRIPLE] [--features LIST] > changegate.cdx.json

Reads `cargo metadata` (no network with --offline/--locked) and Cargo.lock
(for the registry checksums). Deterministic except for the timestamp and the
serial number, which SOURCE_DATE_EPOCH and the version fix when set."""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tomllib
import uuid


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default="x86_64-unknown-linux-musl")
    ap.add_argument("--features", default="")
    ap.add_argument("--manifest-dir", default=os.path.join(os.path.dirname(__file__), ".."))
    a = ap.parse_args()
    cmd = ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", a.target]
    if a.features:
        cmd += ["--features", a.features]
    meta = json.loads(subprocess.check_output(cmd, cwd=a.manifest_dir))
    with open(os.path.join(a.manifest_dir, "Cargo.lock"), "rb") as f:
        lock = tomllib.load(f)
    checksums = {(p["name"], p["version"]): p.get("checksum") for p in lock["package"]}
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = meta["resolve"]["root"]

    # Normal dependencies only: build scripts and proc macros run at build
    # time (kind "build"; proc macros are listed but leave no code behind
    # except what they generate, so they are kept as build-time components).
    def normal_deps(node):
        for d in node["deps"]:
            if any(k["kind"] is None for k in d["dep_kinds"]):
                yield d["pkg"]

    seen, order, stack = set(), [], [root]
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        order.append(pid)
        stack.extend(normal_deps(nodes[pid]))

    def ref(pid):
        p = packages[pid]
        return f"pkg:cargo/{p['name']}@{p['version']}"

    def component(pid, kind="library"):
        p = packages[pid]
        c = {"type": kind, "bom-ref": ref(pid), "name": p["name"], "version": p["version"], "purl": ref(pid)}
        if p.get("description"):
            c["description"] = " ".join(p["description"].split())
        if p.get("license"):
            c["licenses"] = [{"expression": p["license"]}]
        sha = checksums.get((p["name"], p["version"]))
        if sha:
            c["hashes"] = [{"alg": "SHA-256", "content": sha}]
        if p.get("repository"):
            c["externalReferences"] = [{"type": "vcs", "url": p["repository"]}]
        if any(t["kind"] == ["proc-macro"] for t in p["targets"]):
            c["scope"] = "excluded"
        return c

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.datetime.fromtimestamp(int(epoch), datetime.UTC) if epoch else datetime.datetime.now(datetime.UTC)
    main_pkg = packages[root]
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"changegate/{main_pkg['version']}/{a.target}/{a.features}")),
        "version": 1,
        "metadata": {
            "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "changegate release/sbom.py"}]},
            "component": component(root, "application"),
            "properties": [{"name": "cdx:rustc:target", "value": a.target}],
        },
        "components": [component(pid) for pid in sorted(order[1:], key=ref)],
        "dependencies": [
            {"ref": ref(pid), "dependsOn": sorted({ref(d) for d in normal_deps(nodes[pid])})}
            for pid in sorted(order, key=ref)
        ],
    }
    json.dump(bom, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
