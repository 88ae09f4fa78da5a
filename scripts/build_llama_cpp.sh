#!/usr/bin/env bash
# Builds llama.cpp's llama-bench, llama-batched-bench and llama-quantize from the source that
# node-llama-cpp's npm package bundles (node_modules/node-llama-cpp/llama/gitRelease.bundle), for
# the side-by-side figures of `ds bench serve --offline` (scripts/compare_llama_cpp.sh runs them).
# CPU only, those targets only, at low priority: about 25 minutes on 2 cores.
#   usage: scripts/build_llama_cpp.sh [OUT_DIR]    (default .tmp/llama.cpp; binaries in OUT_DIR/build/bin)
#   env:   JOBS (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE=node_modules/node-llama-cpp/llama/gitRelease.bundle
OUT=${1:-.tmp/llama.cpp}
JOBS=${JOBS:-2}
[ -f "$BUNDLE" ] || { echo "no $BUNDLE: npm install node-llama-cpp first" >&2; exit 1; }
command -v cmake >/dev/null || { echo "cmake is not installed (Debian: apt-get install cmake)" >&2; exit 1; }
if [ ! -d "$OUT/.git" ]; then
  mkdir -p "$(dirname "$OUT")"
  git clone --quiet "$BUNDLE" "$OUT"
fi
echo "llama.cpp at $(git -C "$OUT" rev-parse --short HEAD) in $OUT"
nice -n 19 cmake -S "$OUT" -B "$OUT/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=OFF >/dev/null
nice -n 19 cmake --build "$OUT/build" -j "$JOBS" --target llama-bench llama-batched-bench llama-quantize
ls -la "$OUT/build/bin/"
