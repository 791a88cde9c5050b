#!/usr/bin/env bash
# The CycloneDX 1.5 SBOM (JSON) of the crates compiled into the release
# binary, made by cargo-cyclonedx (the CycloneDX project's tool): the
# package with its default features for the release target, without build
# dependencies (proc macros are listed: their code is generated into the
# binary). SOURCE_DATE_EPOCH, when set, fixes the timestamp and leaves out
# the random serial number.
#
# usage: release/sbom.sh OUT_FILE [--features LIST]
#        release/sbom.sh --install   installs the pinned cargo-cyclonedx (crates.io, --locked)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
version=0.5.9
target=x86_64-unknown-linux-musl
die() { echo "release/sbom.sh: $*" >&2; exit 2; }

installed() { cargo cyclonedx --version 2>/dev/null | grep -Eq "^cargo-cyclonedx[a-z-]* ${version//./\\.}\$"; }

if [ "${1:-}" = --install ]; then
  installed || cargo install --locked --quiet cargo-cyclonedx --version "$version" \
    || die "could not install cargo-cyclonedx $version from crates.io"
  installed || die "cargo cyclonedx does not report version $version after installing it"
  exit 0
fi

[ $# -ge 1 ] || die "usage: release/sbom.sh OUT_FILE [--features LIST] | --install"
out=$1; shift
features=()
if [ "${1:-}" = --features ]; then features=(--features "$2"); shift 2; fi
[ $# -eq 0 ] || die "unknown argument $1"
installed || die "cargo-cyclonedx $version is not installed: release/sbom.sh --install"

# It writes NAME.json beside Cargo.toml; a name of our own keeps it apart.
name=changegate-sbom-$$.cdx
trap 'rm -f "$repo/$name.json"' EXIT
(cd "$repo" && cargo cyclonedx --quiet --format json --spec-version 1.5 --target "$target" --no-build-deps \
  --override-filename "$name" "${features[@]}") || die "cargo cyclonedx failed"
grep -q '"specVersion": "1.5"' "$repo/$name.json" && grep -q '"purl": "pkg:cargo/changegate@' "$repo/$name.json" \
  || die "the SBOM is not CycloneDX 1.5 of the changegate crate"
mv "$repo/$name.json" "$out"

