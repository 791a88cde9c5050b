#!/usr/bin/env bats
# The release artefacts served from a local HTTP server, and the packed,
# stamped orb's install command run against them: a matching binary is
# installed, a tampered one refused, a present one reused, an unstamped orb
# refused.

load helpers

setup_file() {
  pack_orb
  local musl=$REPO/target/x86_64-unknown-linux-musl/release/changegate
  [ -x "$musl" ] || fail_setup "no release binary at $musl (cargo build --release --target x86_64-unknown-linux-musl)"
  VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$REPO/Cargo.toml" | head -n1)
  export VERSION
  local site=$BATS_FILE_TMPDIR/site
  mkdir -p "$site/good/v$VERSION" "$site/tampered/v$VERSION"
  "$REPO/release/build.sh" --version "$VERSION" --binary "$musl" \
    --image-digest "sha256:$(printf image | sha256sum | cut -d' ' -f1)" \
    --packed-orb "$BATS_FILE_TMPDIR/orb.yml" --out "$BATS_FILE_TMPDIR/release" >/dev/null
  cp "$BATS_FILE_TMPDIR/release/changegate-x86_64-unknown-linux-musl" "$site/good/v$VERSION/"
  # Same size, one byte changed: what a compromised host could serve.
  cp "$BATS_FILE_TMPDIR/release/changegate-x86_64-unknown-linux-musl" "$site/tampered/v$VERSION/"
  printf 'X' | dd of="$site/tampered/v$VERSION/changegate-x86_64-unknown-linux-musl" bs=1 seek=4096 conv=notrunc 2>/dev/null
  python3 -u -m http.server --bind 127.0.0.1 0 --directory "$site" >"$BATS_FILE_TMPDIR/http.log" 2>&1 &
  echo $! >"$BATS_FILE_TMPDIR/http.pid"
  local port=""
  for _ in $(seq 50); do
    port=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$BATS_FILE_TMPDIR/http.log" | head -n1)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || fail_setup "the local HTTP server did not start: $(cat "$BATS_FILE_TMPDIR/http.log")"
  export BASE_URL=http://127.0.0.1:$port
}

teardown_file() {
  kill "$(cat "$BATS_FILE_TMPDIR/http.pid")" 2>/dev/null || true
}

setup() {
  DEST=$BATS_TEST_TMPDIR/bin
  mkdir -p "$DEST"
  # Nothing named changegate on PATH unless a test puts it there.
  export PATH=/usr/bin:/bin
}

@test "the release carries the binary, its checksum, an SBOM and the stamped orb" {
  local rel=$BATS_FILE_TMPDIR/release
  (cd "$rel" && sha256sum -c changegate-x86_64-unknown-linux-musl.sha256)
  run python3 -c '
import json, sys
b = json.load(open(sys.argv[1]))
assert b["bomFormat"] == "CycloneDX" and b["specVersion"] == "1.5", b["specVersion"]
names = {c["name"] for c in b["components"]}
assert {"serde", "ureq", "ring", "clap"} <= names, names
assert "git2" not in names and "insta" not in names, "only what the default build links"
assert all(c["purl"].startswith("pkg:cargo/") for c in b["components"])
assert b["metadata"]["component"]["name"] == "changegate"
print(len(names))' "$rel/changegate.cdx.json"
  [ "$status" -eq 0 ]
  grep -q "default: \"$(cut -d' ' -f1 "$rel/changegate-x86_64-unknown-linux-musl.sha256")\"" "$rel/orb.yml"
  ! grep -q 'unstamped\|0.0.0-unreleased\|sha256:0000000000000000' "$rel/orb.yml"
}

@test "install downloads the release and checks it against the orb's checksum" {
  run run_orb_command "$BATS_FILE_TMPDIR/release/orb.yml" install \
    "download_base_url=$BASE_URL/good" "install_dir=$DEST"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"installed changegate $VERSION at $DEST/changegate"* ]]
  run "$DEST/changegate" --version
  [ "$output" = "changegate $VERSION" ]
}

@test "install refuses a tampered binary and installs nothing" {
  run run_orb_command "$BATS_FILE_TMPDIR/release/orb.yml" install \
    "download_base_url=$BASE_URL/tampered" "install_dir=$DEST"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"does not match the orb's checksum"* ]]
  [ ! -e "$DEST/changegate" ]
}

@test "install uses a binary already present when its checksum matches" {
  cp "$BATS_FILE_TMPDIR/release/changegate-x86_64-unknown-linux-musl" "$DEST/changegate"
  PATH=$DEST:$PATH run run_orb_command "$BATS_FILE_TMPDIR/release/orb.yml" install \
    "download_base_url=http://127.0.0.1:9/unreachable" "install_dir=$DEST"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"already installed at $DEST/changegate"* ]]
}

@test "install replaces a present binary that does not match" {
  printf '#!/bin/sh\necho impostor\n' >"$DEST/changegate"
  chmod +x "$DEST/changegate"
  PATH=$DEST:$PATH run run_orb_command "$BATS_FILE_TMPDIR/release/orb.yml" install \
    "download_base_url=$BASE_URL/good" "install_dir=$DEST"
  [ "$status" -eq 0 ]
  run "$DEST/changegate" --version
  [ "$output" = "changegate $VERSION" ]
}

@test "an unstamped orb refuses to install without a checksum" {
  run run_orb_command "$BATS_FILE_TMPDIR/orb.yml" install "download_base_url=$BASE_URL/good" "install_dir=$DEST"
  [ "$status" -eq 2 ]
  [[ "$output" == *"carries no checksum"* ]]
  [ ! -e "$DEST/changegate" ]
}

@test "stamping refuses a stamped orb and malformed values" {
  run python3 "$REPO/release/stamp-orb.py" "$BATS_FILE_TMPDIR/release/orb.yml" "$VERSION" "$(printf a | sha256sum | cut -d' ' -f1)" "sha256:$(printf b | sha256sum | cut -d' ' -f1)"
  [ "$status" -ne 0 ]
  [[ "$output" == *"stamped twice"* ]]
  run python3 "$REPO/release/stamp-orb.py" "$BATS_FILE_TMPDIR/orb.yml" "$VERSION" "not-a-sha" "sha256:$(printf b | sha256sum | cut -d' ' -f1)"
  [ "$status" -ne 0 ]
}
