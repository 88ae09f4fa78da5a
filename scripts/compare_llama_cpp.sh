#!/usr/bin/env bash
# deepscale beside llama.cpp on the same GGUFs and the same thread count, the two alternated REPS
# times and the best of each kept (a shared machine drifts by 2× and more within minutes: compare
# the ratios, never figures from different runs):
#   decode tok/s at batch 1 / 8 / 32  llama-batched-bench -npp 16 -ntg N  vs  ds bench serve --offline --decode-only
#   prompt tok/s (512 tokens, batch 1) llama-bench -p 512 -n 0            vs  the same ds run's prompt figure
# Needs scripts/build_llama_cpp.sh's binaries. Not a test.
#   usage: scripts/compare_llama_cpp.sh [GGUF ...]   (default: scripts/bench_models.ts's files)
#   env:   THREADS (default 2), NTG (decode tokens, default 64), REPS (default 2), BIN (default .tmp/llama.cpp/build/bin)
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
NTG=${NTG:-64}
REPS=${REPS:-2}
BIN=${BIN:-.tmp/llama.cpp/build/bin}
[ -x "$BIN/llama-batched-bench" ] || { echo "no $BIN/llama-batched-bench: run scripts/build_llama_cpp.sh first" >&2; exit 1; }
if [ $# -eq 0 ]; then
  [ -f .tmp/bench-models/110m-q4_k_m.gguf ] || npx tsx scripts/bench_models.ts
  set -- .tmp/bench-models/{27m,110m}-{f16,q8_0,q4_k_m}.gguf
fi
echo "threads $THREADS, $(uptime)"
best() { echo "if ($1 > $2) $1 else $2" | bc -l; }
printf '%-22s %6s %12s %12s %7s\n' model point llama.cpp deepscale ratio
for m in "$@"; do
  declare -A lc=() dd=()
  pp=0 p=0
  for rep in $(seq "$REPS"); do
    # llama-batched-bench: one line per batch; B is the 4th | field, S_TG t/s the 9th
    while read -r b tg; do lc[$b]=$(best "${lc[$b]:-0}" "$tg"); done < <("$BIN/llama-batched-bench" -m "$m" -t "$THREADS" -c 4096 -b 512 -ub 512 -npp 16 -ntg "$NTG" -npl 1,8,32 2>/dev/null |
      awk -F'|' '$2 ~ /^ *[0-9]+ *$/ { gsub(/ /, "", $4); gsub(/ /, "", $9); print $4, $9 }')
    pp=$(best "$pp" "$("$BIN/llama-bench" -m "$m" -t "$THREADS" -p 512 -n 0 -r 1 -o csv 2>/dev/null | awk -F, 'NR > 1 { gsub(/"/, ""); v = $(NF - 1) } END { print v }')")
    ds=$(node bin/ds.js bench serve --offline --decode-only --model "$m" --threads "$THREADS" --decode-tokens "$NTG" --prompt-tokens 512 --json 2>/dev/null)
    for b in 1 8 32; do dd[$b]=$(best "${dd[$b]:-0}" "$(node -e 'const r = JSON.parse(process.argv[1]); console.log(r.decode.find((x) => x.batch === +process.argv[2]).tokPerS.toFixed(1))' "$ds" "$b")"); done
    p=$(best "$p" "$(node -e 'console.log(JSON.parse(process.argv[1]).prompt.tokPerS.toFixed(1))' "$ds")")
  done
  for b in 1 8 32; do
    d=${dd[$b]}
    printf '%-22s %6s %12s %12s %6.2fx\n' "$(basename "$m" .gguf)" "tg b$b" "${lc[$b]:-?}" "$d" "$(echo "$d / ${lc[$b]:-0}" | bc -l 2>/dev/null || echo 0)"
  done
  printf '%-22s %6s %12s %12s %6.2fx\n' "$(basename "$m" .gguf)" "pp512" "$pp" "$p" "$(echo "$p / $pp" | bc -l 2>/dev/null || echo 0)"
  unset lc dd
done
echo "$(uptime)"
