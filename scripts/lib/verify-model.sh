#!/usr/bin/env bash
# Moves an assembled model file into place only if its size and SHA-256 are the expected ones;
# otherwise deletes it and exits 1, so a wrong or corrupt download is never used.
# Usage: verify-model.sh ASSEMBLED_FILE EXPECTED_SHA256 EXPECTED_BYTES DESTINATION
set -euo pipefail
file="$1"; expected_sha="$2"; expected_bytes="$3"; destination="$4"
say() { printf 'install-local-model: %s\n' "$*" >&2; }

bytes=$(stat -c %s "$file")
if [ "$bytes" != "$expected_bytes" ]; then
  say "ERROR: $(basename "$destination") has $bytes bytes, expected $expected_bytes; refusing to install it"
  rm -f "$file"
  exit 1
fi
actual=$(sha256sum "$file" | cut -d' ' -f1)
if [ "$actual" != "$expected_sha" ]; then
  say "ERROR: $(basename "$destination") sha256 is $actual, expected $expected_sha; refusing to install it"
  rm -f "$file"
  exit 1
fi
mv "$file" "$destination"
say "model verified: $destination"
