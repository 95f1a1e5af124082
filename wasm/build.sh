#!/bin/sh
# Builds the SIMD delimiter scanner and writes src/multipart/scanner.wasm.
#
#   wasm/build.sh [OUTPUT]     (default: src/multipart/scanner.wasm)
#
# Needs Debian's rustc 1.63 with the wasm32 target (RUSTC, default
# /usr/bin/rustc), cargo (CARGO, default /usr/bin/cargo) and, for the
# committed bytes, binaryen's wasm-opt 108. The output does not depend on the
# checkout folder or CARGO_TARGET_DIR (paths are remapped, symbols stripped).
set -eu

WASM_DIR=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-"$WASM_DIR/../src/multipart/scanner.wasm"}
case $OUT in /*) ;; *) OUT="$(pwd)/$OUT" ;; esac
RUSTC=${RUSTC:-/usr/bin/rustc}
CARGO=${CARGO:-/usr/bin/cargo}
TARGET_DIR=${CARGO_TARGET_DIR:-"$WASM_DIR/target"}
export RUSTC
# Codegen flags live in wasm/.cargo/config.toml; these would override them.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS CARGO_BUILD_TARGET

cd "$WASM_DIR"
"$CARGO" rustc --quiet --release --locked --target wasm32-unknown-unknown \
  --target-dir "$TARGET_DIR" -- \
  --remap-path-prefix "$WASM_DIR=/rad69/wasm" \
  --remap-path-prefix "$TARGET_DIR=/rad69/target"

BUILT="$TARGET_DIR/wasm32-unknown-unknown/release/rad69_scanner.wasm"
TMP="$OUT.tmp"
if command -v wasm-opt >/dev/null 2>&1; then
  case $(wasm-opt --version) in
  *"version 108"*) ;;
  *) echo "build.sh: warning: expected wasm-opt version 108, got: $(wasm-opt --version)" >&2 ;;
  esac
  wasm-opt -O3 --enable-simd --strip-debug --strip-producers "$BUILT" -o "$TMP"
else
  echo "build.sh: warning: wasm-opt not found; output is not optimised and will not match the committed file" >&2
  cp "$BUILT" "$TMP"
fi
mv "$TMP" "$OUT"
echo "build.sh: wrote $OUT ($(wc -c <"$OUT") bytes)"
