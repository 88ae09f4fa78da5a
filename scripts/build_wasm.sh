#!/usr/bin/env bash
# Rebuilds the hand-written WebAssembly kernels from their C sources. Needs clang and wasm-ld
# (Debian: apt-get install clang lld). The .wasm outputs are committed: nothing else needs clang.
set -euo pipefail
cd "$(dirname "$0")/.."
for src in src/inference/*/kernels/*.c; do
  clang --target=wasm32 -O3 -msimd128 -matomics -mbulk-memory -nostdlib -ffreestanding \
    -Wl,--no-entry -Wl,--import-memory -Wl,--shared-memory -Wl,--max-memory=4294967296 \
    -Wl,--strip-all -o "${src%.c}.wasm.tmp" "$src"
  mv "${src%.c}.wasm.tmp" "${src%.c}.wasm"
  echo "built ${src%.c}.wasm ($(stat -c %s "${src%.c}.wasm") bytes)"
done
