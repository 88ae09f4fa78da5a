import { assert } from '../errors.ts';
import { modelExtras, type ModelConfig } from './types.ts';

export type RopeConfig = Pick<ModelConfig, 'headDim' | 'ropeTheta' | 'ropeStyle' | 'ropeScaling'>;

/**
 * The angle per position of each rope pair, [Dh/2]: θ^(−2j/Dh), stretched by the config's
 * ropeScaling (see RopeScaling). Llama 3.1's rule, as its HF config states it: with
 * wavelength λ_j = 2π / f_j, low = L₀ / lowFreqFactor, high = L₀ / highFreqFactor,
 *   λ > low  → f / factor;   λ < high → f;   otherwise (1 − s)·f / factor + s·f, s = (L₀/λ − lowFF) / (highFF − lowFF).
 */
export function ropeInvFreqs(config: RopeConfig): Float64Array {
  const half = config.headDim / 2;
  const scaling = modelExtras(config).ropeScaling;
  const f = new Float64Array(half);
  for (let j = 0; j < half; j++) f[j] = Math.pow(config.ropeTheta, (-2 * j) / config.headDim);
  if (scaling === null) return f;
  if (scaling.type === 'linear') return f.map((v) => v / scaling.factor);
  if (scaling.type === 'freqs') {
    assert(scaling.divisors.length === half, () => `ropeInvFreqs: ${scaling.divisors.length} rope divisors for ${half} pairs`);
    return f.map((v, j) => v / scaling.divisors[j]!);
  }
  const { factor, lowFreqFactor: lo, highFreqFactor: hi, originalMaxPositionEmbeddings: L0 } = scaling;
  return f.map((v) => {
    const wavelen = (2 * Math.PI) / v;
    if (wavelen < L0 / hi) return v;
    if (wavelen > L0 / lo) return v / factor;
    const s = (L0 / wavelen - lo) / (hi - lo);
    return (1 - s) * (v / factor) + s * v;
  });
}

/** Each pair's divisor against plain rope, [Dh/2] (what GGUF's rope_freqs tensor holds for Llama 3.1). */
export function ropeDivisors(config: RopeConfig): Float64Array {
  const plain = ropeInvFreqs({ ...config, ropeScaling: null });
  return ropeInvFreqs(config).map((f, j) => plain[j]! / f);
}
