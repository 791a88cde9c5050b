#!/usr/bin/env bash
# Assembles the release artefacts of one version in OUT_DIR:
#   changegate-x86_64-unknown-linux-musl         the static binary
#   changegate-x86_64-unknown-linux-musl.sha256  its SHA-256 (sha256sum format)
#   changegate.cdx.json                          CycloneDX SBOM of its crates (release/sbom.sh)
#   orb.yml                                      the packed orb, stamped with the
#                                                version, the checksum and the image digest
#
# usage: release/build.sh --version X.Y.Z --image-digest sha256:HEX --packed-orb FILE --out DIR [--binary PATH] [--sbom FILE]
#   --packed-orb  output of `circleci orb pack orb/src` (orb-tools/pack in CI)
#   --binary      default: target/x86_64-unknown-linux-musl/release/changegate
#   --sbom        the SBOM release/sbom.sh made where the binary was built
#                 (default: make it here, with cargo and cargo-cyclonedx)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
die() { echo "release/build.sh: $*" >&2; exit 2; }

version="" digest="" packed="" out="" sbom="" binary=$repo/target/x86_64-unknown-linux-musl/release/changegate
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=$2; shift 2 ;;
    --image-digest) digest=$2; shift 2 ;;
    --packed-orb) packed=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --sbom) sbom=$2; shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
if [ -z "$version" ] || [ -z "$digest" ] || [ -z "$packed" ] || [ -z "$out" ]; then
  die "usage: release/build.sh --version X.Y.Z --image-digest sha256:HEX --packed-orb FILE --out DIR [--binary PATH]"
fi
crate_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n1)
[ "$version" = "$crate_version" ] || die "version $version is not the crate's ($crate_version)"
[ -x "$binary" ] || die "no binary at $binary"
file "$binary" | grep -Eq 'static(-pie)? linked|statically linked' || die "$binary is not statically linked"
reported=$("$binary" --version)
[ "$reported" = "changegate $version" ] || die "the binary reports '$reported', not 'changegate $version'"
[ -f "$packed" ] || die "no packed orb at $packed"

asset=changegate-x86_64-unknown-linux-musl
mkdir -p "$out"
install -m 0755 "$binary" "$out/$asset"
(cd "$out" && sha256sum "$asset" >"$asset.sha256")
sha=$(cut -d' ' -f1 "$out/$asset.sha256")
if [ -n "$sbom" ]; then
  grep -q '"specVersion": "1.5"' "$sbom" && grep -Eq "\"purl\": \"pkg:cargo/changegate@${version//./\\.}[?\"]" "$sbom" \
    || die "$sbom is not a CycloneDX 1.5 SBOM of changegate $version"
  install -m 0644 "$sbom" "$out/changegate.cdx.json"
else
  "$here/sbom.sh" "$out/changegate.cdx.json" || die "could not make the SBOM"
fi
python3 "$here/stamp-orb.py" "$packed" "$version" "$sha" "$digest" >"$out/orb.yml.tmp"
mv "$out/orb.yml.tmp" "$out/orb.yml"
echo "release $version in $out: $asset (SHA-256 $sha), changegate.cdx.json, orb.yml (image $digest)"
