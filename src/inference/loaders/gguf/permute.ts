import type { HostTensor } from '../types.ts';

/**
 * HF Llama applies rope by rotate-half (pairs (i, i + Dh/2) within a head); llama.cpp computes
 * GGUF llama with adjacent pairs (2i, 2i + 1). llama.cpp's converter therefore reorders the rows
 * of q_proj and k_proj within each head so that the pair (i, i + Dh/2) lands at (2i, 2i + 1):
 *   permuted row h*Dh + 2i + t  =  HF row h*Dh + t*Dh/2 + i        (t in {0, 1}, i < Dh/2)
 * Attention scores are unchanged because q and k get the same permutation.
 * A weight is [heads * Dh, in]; `numHeads` is numHeads for q and numKvHeads for k.
 */
export function permuteQkForGguf(w: HostTensor, numHeads: number): HostTensor {
  return permuteRows(w, numHeads, false);
}

/** Inverse of permuteQkForGguf: GGUF (adjacent) row order back to HF (rotate-half). */
export function unpermuteQkFromGguf(w: HostTensor, numHeads: number): HostTensor {
  return permuteRows(w, numHeads, true);
}

function permuteRows(w: HostTensor, numHeads: number, inverse: boolean): HostTensor {
  const [rows, cols] = w.shape as [number, number];
  const dh = rows / numHeads;
  if (!Number.isInteger(dh) || dh % 2 !== 0) {
    throw new RangeError(`permuteQk: ${rows} rows do not split into ${numHeads} heads of even size`);
  }
  const out = new Float32Array(w.data.length);
  for (let h = 0; h < numHeads; h++) {
    for (let i = 0; i < dh / 2; i++) {
      for (let t = 0; t < 2; t++) {
        const adjacent = h * dh + 2 * i + t;
        const half = h * dh + t * (dh / 2) + i;
        const [dst, src] = inverse ? [half, adjacent] : [adjacent, half];
        out.set(w.data.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return { shape: [rows, cols], data: out };
}
