#!/bin/sh
# Rebuilds the scanner in a temporary folder and fails when the bytes differ
# from the committed src/multipart/scanner.wasm.
set -eu

WASM_DIR=$(cd "$(dirname "$0")" && pwd)
COMMITTED="$WASM_DIR/../src/multipart/scanner.wasm"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

CARGO_TARGET_DIR="$TMP/target" "$WASM_DIR/build.sh" "$TMP/scanner.wasm" >/dev/null
if [ ! -f "$COMMITTED" ]; then
  echo "wasm:check: FAILED: $COMMITTED is missing; run wasm/build.sh" >&2
  exit 1
fi
if ! cmp -s "$TMP/scanner.wasm" "$COMMITTED"; then
  echo "wasm:check: FAILED: src/multipart/scanner.wasm differs from a fresh build of wasm/ ($(wc -c <"$TMP/scanner.wasm") vs $(wc -c <"$COMMITTED") bytes, sha256 $(sha256sum "$TMP/scanner.wasm" | cut -c1-16) vs $(sha256sum "$COMMITTED" | cut -c1-16)); run wasm/build.sh and commit the result (toolchain: rustc 1.63 from Debian, wasm-opt 108)" >&2
  exit 1
fi
echo "wasm:check: ok (src/multipart/scanner.wasm matches a fresh build)"
