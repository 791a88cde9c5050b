#!/usr/bin/env bash
# Builds the changegate image with buildah, without a Docker daemon or a base
# image: the root filesystem is assembled from the static binary and Debian's
# busybox-static and ca-certificates.
#
# usage: docker/build.sh [--binary PATH] [--tag NAME:VERSION] [--save DIR]
#   --binary  the static changegate binary (default: the musl release build)
#   --tag     image name (default: localhost/changegate:VERSION from Cargo.toml)
#   --save    also write DIR/changegate-image.oci.tar.gz (podman save --format
#             oci-archive, gzip -9) and print its size
# Env: CONTAINERS_CONF (default docker/containers.conf), BUILDAH_STORAGE_DRIVER (default vfs).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n1)
binary=$repo/target/x86_64-unknown-linux-musl/release/changegate
tag=localhost/changegate:$version
save=""
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --save) save=$2; shift 2 ;;
    *) echo "docker/build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
driver=${BUILDAH_STORAGE_DRIVER:-vfs}

die() { echo "docker/build.sh: $*" >&2; exit 1; }
[ -x "$binary" ] || die "no binary at $binary (cargo build --release --target x86_64-unknown-linux-musl)"
file "$binary" | grep -Eq 'static(-pie)? linked|statically linked' || die "$binary is not statically linked"
busybox=/bin/busybox
if ! { [ -x "$busybox" ] && file -L "$busybox" | grep -Eq 'static(-pie)? linked|statically linked'; }; then
  die "a static busybox is needed at $busybox (Debian package busybox-static)"
fi
cabundle=/etc/ssl/certs/ca-certificates.crt
[ -s "$cabundle" ] || die "no CA bundle at $cabundle (Debian package ca-certificates)"

# The build context holds only what goes into the image.
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
root=$ctx/rootfs
mkdir -p "$root"/{bin,etc/ssl/certs,usr/local/bin,tmp} "$ctx/home/circleci/project"
install -m 0755 "$busybox" "$root/bin/busybox"
# One static binary serves every applet (sh, tar, gzip, sed, sha256sum...).
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
install -m 0755 "$binary" "$root/usr/local/bin/changegate"
install -m 0644 "$cabundle" "$root/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/bin/sh\ncircleci:x:3434:3434:circleci:/home/circleci:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\ncircleci:x:3434:\n' >"$root/etc/group"
chmod 1777 "$root/tmp"
cp "$here/Containerfile" "$ctx/Containerfile"

buildah --storage-driver "$driver" bud --isolation chroot --quiet \
  --build-arg "VERSION=$version" \
  --build-arg "REVISION=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)" \
  --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -t "$tag" -f "$ctx/Containerfile" "$ctx" >/dev/null
echo "built $tag"

if [ -n "$save" ]; then
  mkdir -p "$save"
  rm -f "$save/changegate-image.oci.tar" "$save/changegate-image.oci.tar.gz"
  podman --storage-driver "$driver" save --quiet --format oci-archive -o "$save/changegate-image.oci.tar" "$tag" >/dev/null
  gzip -9 -f "$save/changegate-image.oci.tar"
  bytes=$(stat -c %s "$save/changegate-image.oci.tar.gz")
  echo "compressed image (gzip -9 of podman save --format oci-archive): $bytes bytes"
fi
