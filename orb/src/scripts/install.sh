#!/bin/sh
# Puts the changegate binary on PATH. The expected SHA-256 comes from the orb
# (the release stamps it), never from the download host: a binary that does
# not match is refused, and one already present is used when it matches.
set -eu
eval "$CG_SCRIPT_UTILS"

version=${CG_VERSION:?}
expected=$(printf '%s' "${CG_SHA256:-}" | tr 'A-F' 'a-f')
base_url=${CG_DOWNLOAD_BASE_URL%/}
install_dir=${CG_INSTALL_DIR:-/usr/local/bin}

case "$expected" in
  [0-9a-f]*) ;;
  *) expected="" ;;
esac
if [ "${#expected}" -ne 64 ]; then
  cg_die "this orb carries no checksum for changegate $version (an unreleased build?): pass the sha256 parameter"
fi

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  else
    cg_die "no sha256sum, shasum or openssl to check the download with"
  fi
}

present=$(command -v changegate 2>/dev/null || true)
if [ -z "$present" ] && [ -x "${HOME:-/nonexistent}/.local/bin/changegate" ]; then
  present=$HOME/.local/bin/changegate
fi
if [ -n "$present" ] && [ "$(sha256_of "$present")" = "$expected" ]; then
  echo "changegate $version is already installed at $present (SHA-256 $expected)"
  exit 0
fi

os=$(uname -s)
arch=$(uname -m)
if [ "$os" != Linux ] || [ "$arch" != x86_64 ]; then
  cg_die "changegate is released for Linux x86_64; this executor is $os $arch"
fi
asset=changegate-x86_64-unknown-linux-musl
url="$base_url/v$version/$asset"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "downloading $url"
if command -v curl >/dev/null 2>&1; then
  curl --fail --silent --show-error --location --retry 3 --proto '=https,http' -o "$tmp/$asset" "$url" \
    || cg_die "could not download $url"
elif command -v wget >/dev/null 2>&1; then
  wget -q -O "$tmp/$asset" "$url" || cg_die "could not download $url"
else
  cg_die "neither curl nor wget is available to download changegate"
fi
actual=$(sha256_of "$tmp/$asset")
if [ "$actual" != "$expected" ]; then
  echo "changegate orb: the download does not match the orb's checksum: expected $expected, got $actual; refusing it" >&2
  exit 1
fi
chmod 0755 "$tmp/$asset"

if [ -d "$install_dir" ] && [ -w "$install_dir" ]; then
  mv "$tmp/$asset" "$install_dir/changegate"
elif [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo mkdir -p "$install_dir"
  sudo mv "$tmp/$asset" "$install_dir/changegate"
else
  install_dir=$HOME/.local/bin
  mkdir -p "$install_dir"
  mv "$tmp/$asset" "$install_dir/changegate"
  if [ -n "${BASH_ENV:-}" ]; then
    # $PATH is meant literally: BASH_ENV is evaluated by each later step.
    # shellcheck disable=SC2016
    printf 'export PATH="%s:$PATH"\n' "$install_dir" >>"$BASH_ENV"
  fi
fi
"$install_dir/changegate" --version
echo "installed changegate $version at $install_dir/changegate (SHA-256 $actual)"
