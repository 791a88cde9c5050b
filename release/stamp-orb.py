#!/usr/bin/env python3
"""Stamps a packed orb (orb.yml from `circleci orb pack orb/src`) with its
release: the version (install's default and the executor's image tag), the
binary's SHA-256 (install's default) and the image digest (the executor's
default). Every placeholder must be replaced exactly where expected, or
nothing is written.

usage: stamp-orb.py PACKED_ORB VERSION BINARY_SHA256 IMAGE_DIGEST > orb.yml"""
import re
import sys

import yaml

VERSION_PLACEHOLDER = "0.0.0-unreleased"
SHA_PLACEHOLDER = "unstamped"
DIGEST_PLACEHOLDER = "sha256:" + "0" * 64


def fail(msg: str) -> None:
    sys.exit(f"stamp-orb.py: {msg}")


def main() -> None:
    if len(sys.argv) != 5:
        fail("usage: stamp-orb.py PACKED_ORB VERSION BINARY_SHA256 IMAGE_DIGEST")
    path, version, sha, digest = sys.argv[1:]
    if not re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?", version):
        fail(f"{version!r} is not a release version (X.Y.Z)")
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        fail("the binary checksum must be 64 lowercase hex digits")
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest) or digest == DIGEST_PLACEHOLDER:
        fail("the image digest must be sha256: and 64 hex digits")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    orb = yaml.safe_load(text)
    install = orb["commands"]["install"]["parameters"]
    executor = orb["executors"]["default"]["parameters"]
    expected = [
        (install["version"], VERSION_PLACEHOLDER),
        (install["sha256"], SHA_PLACEHOLDER),
        (executor["tag"], VERSION_PLACEHOLDER),
        (executor["digest"], DIGEST_PLACEHOLDER),
    ]
    for param, placeholder in expected:
        if param.get("default") != placeholder:
            fail(f"expected the placeholder {placeholder!r}, found {param.get('default')!r}: stamped twice?")
    # Replace the defaults in the YAML text (keeping the packed layout and the
    # escaped scripts byte for byte), then check the result parses to what is meant.
    counts = {VERSION_PLACEHOLDER: 2, DIGEST_PLACEHOLDER: 1}
    for placeholder, n in counts.items():
        if text.count(placeholder) != n:
            fail(f"{placeholder!r} occurs {text.count(placeholder)} times, expected {n}")
    text = text.replace(DIGEST_PLACEHOLDER, digest).replace(VERSION_PLACEHOLDER, version)
    text, n = re.subn(r"(?m)^(\s+default:\s*)(['\"]?)unstamped\2\s*$", lambda m: f"{m.group(1)}\"{sha}\"", text)
    if n != 1:
        fail(f"the checksum placeholder was found {n} times, expected once")
    out = yaml.safe_load(text)
    got = (
        out["commands"]["install"]["parameters"]["version"]["default"],
        out["commands"]["install"]["parameters"]["sha256"]["default"],
        out["executors"]["default"]["parameters"]["tag"]["default"],
        out["executors"]["default"]["parameters"]["digest"]["default"],
    )
    if got != (version, sha, version, digest):
        fail(f"stamping produced {got}")
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
