import { assert } from '../../errors.ts';
import { ropeInvFreqs, type RopeConfig } from '../../models/rope_scaling.ts';

/**
 * Rotary embedding on the host, one token at a time at its own position (a ragged batch mixes
 * positions). cos/sin are computed once for every position up to maxLen, in float64.
 *   'half':     pairs (i, i + Dh/2)   (HF Llama)
 *   'adjacent': pairs (2i, 2i + 1)    (llama.cpp's GGUF llama)
 * Pair j at position p turns by p · invFreq_j (θ^(−2j/Dh), scaled: ropeInvFreqs): a' = a·c − b·s, b' = b·c + a·s.
 */
export class RopeTable {
  readonly headDim: number;
  readonly maxLen: number;
  private readonly cos: Float64Array; // [maxLen, Dh/2]
  private readonly sin: Float64Array; // [maxLen, Dh/2]
  private readonly style: 'half' | 'adjacent';

  constructor(config: RopeConfig, maxLen: number) {
    const half = config.headDim / 2;
    assert(Number.isInteger(half), () => `RopeTable: headDim ${config.headDim} must be even`);
    this.headDim = config.headDim;
    this.maxLen = maxLen;
    this.style = config.ropeStyle;
    this.cos = new Float64Array(maxLen * half);
    this.sin = new Float64Array(maxLen * half);
    const invFreqs = ropeInvFreqs(config);
    for (let j = 0; j < half; j++) {
      const invFreq = invFreqs[j]!;
      for (let p = 0; p < maxLen; p++) {
        this.cos[p * half + j] = Math.cos(p * invFreq);
        this.sin[p * half + j] = Math.sin(p * invFreq);
      }
    }
  }

  /** Rotates `heads` heads of Dh values starting at x[off], in place, for position `pos`. */
  apply(x: Float32Array, off: number, heads: number, pos: number): void {
    assert(pos >= 0 && pos < this.maxLen, () => `RopeTable.apply: position ${pos} is outside 0..${this.maxLen - 1}`);
    const Dh = this.headDim;
    const half = Dh / 2;
    const t = pos * half;
    const [stride, gap] = this.style === 'half' ? [1, half] : [2, 1];
    for (let h = 0; h < heads; h++) {
      const base = off + h * Dh;
      for (let j = 0; j < half; j++) {
        const a = base + j * stride;
        const b = a + gap;
        const c = this.cos[t + j]!;
        const s = this.sin[t + j]!;
        const x0 = x[a]!;
        const x1 = x[b]!;
        x[a] = x0 * c - x1 * s;
        x[b] = x1 * c + x0 * s;
      }
    }
  }
}
