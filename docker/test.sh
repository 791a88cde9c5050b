#!/usr/bin/env bash
# Runs the built image with podman and checks what a CircleCI primary
# container needs: changegate runs, a shell with tar and gzip works, the CA
# roots are there, and the user is not root.
#
# usage: docker/test.sh [IMAGE]   (default: localhost/changegate:VERSION)
# The commands checked are run by the container's shell: their $ are meant
# literally here.
# shellcheck disable=SC2016
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n1)
image=${1:-localhost/changegate:$version}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
driver=${BUILDAH_STORAGE_DRIVER:-vfs}
failed=0

run() { podman --storage-driver "$driver" --runtime runc run --rm --network none "$image" "$@"; }
check() { # name expected-substring command...
  local name=$1 want=$2 out
  shift 2
  if out=$(run "$@" 2>&1) && [[ "$out" == *"$want"* ]]; then
    echo "ok: $name"
  else
    echo "FAILED: $name: wanted '$want', got: $out" >&2
    failed=1
  fi
}

check "changegate --version" "changegate $version" changegate --version
# The bot's image carries the content checks of merges and squashes.
if [[ "$image" == *changegate-bot* ]]; then
  check "the bot's binary has its content checks" "content checks: git objects" changegate --version
fi
check "a shell runs commands" "shell works" /bin/sh -c 'echo "shell $(echo works)"'
check "tar and gzip round-trip a workspace" "workspace" /bin/sh -c \
  'cd /tmp && mkdir ws && echo workspace > ws/f && tar -czf ws.tgz ws && rm -r ws && tar -xzf ws.tgz && cat ws/f'
check "CA roots present" "BEGIN CERTIFICATE" /bin/sh -c 'head -c 2000 "$SSL_CERT_FILE"'
check "user is not root" "uid=3434" id
check "home is writable" "written" /bin/sh -c 'echo written > "$HOME/project/x" && cat "$HOME/project/x"'
check "sha256sum for the orb's install" "$(sha256sum "$repo/Cargo.toml" | cut -c1-16)" \
  /bin/sh -c "printf '%s' '$(base64 -w0 "$repo/Cargo.toml")' | base64 -d | sha256sum"
labels=$(podman --storage-driver "$driver" image inspect --format '{{json .Labels}}' "$image")
for l in title description version revision source licenses created; do
  if [[ "$labels" == *"org.opencontainers.image.$l"* ]]; then echo "ok: label $l"; else echo "FAILED: label $l missing" >&2; failed=1; fi
done
[ "$failed" = 0 ] && echo "image checks passed: $image"
exit "$failed"
