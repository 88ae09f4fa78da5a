import { InputError } from '../../errors.ts';

/**
 * Integer quantization of a row-major weight [rows, rowLen], one scale per group of `groupSize`
 * consecutive elements of a row (groupSize = rowLen: per output channel).
 *
 *   symmetric, bits ≥ 2:  qmax = 2^(bits−1) − 1,  s = max|x| / qmax,  q = clamp(round(x / s), −qmax, qmax),  x̂ = s·q
 *   symmetric, bits = 1:  s = mean|x| (binarization),  q = sign(x) ∈ {−1, +1},  x̂ = s·q
 *   asymmetric:           L = 2^bits − 1, the range [min, max] widened to hold 0 (so 0 is exact),
 *                         s = (max − min) / L,  z = clamp(round(−min / s), 0, L),  q = clamp(round(x / s) + z, 0, L),  x̂ = s·(q − z)
 *
 * A group of zeros has s = 0 and dequantizes to zeros. Codes are stored unsigned in [0, 2^bits):
 * symmetric codes as q + 2^(bits−1) (1 bit: q = +1 → 1, −1 → 0), asymmetric ones as q.
 * round() is to nearest with ties away from zero, or stochastic: floor(v + u), u ~ U[0, 1).
 */
export interface QuantSpec {
  readonly bits: number;
  readonly groupSize: number;
  readonly symmetric: boolean;
}

export type Rounding = 'nearest' | 'stochastic';

/** A quantized weight: unsigned codes (one byte each, unpacked), one scale (and zero point) per group. */
export interface QuantizedGroups {
  readonly spec: QuantSpec;
  readonly shape: readonly number[];
  readonly codes: Uint8Array; // [numel], values in [0, 2^bits)
  readonly scales: Float32Array; // [numel / groupSize]
  readonly zeros: Uint8Array | null; // [numel / groupSize], asymmetric only
}

/**
 * Checks bits and group size against a tensor's shape; `where` names the tensor (or config path).
 * A group is part of a row, or whole rows (DeepSpeed's quantize_groups cut the flat tensor).
 */
export function checkSpec(spec: QuantSpec, rowLen: number, numel: number, where: string): void {
  const G = spec.groupSize;
  if (!Number.isInteger(spec.bits) || spec.bits < 1 || spec.bits > 8) throw new InputError(`${where}: bits must be an integer in 1..8, got ${spec.bits}`);
  if (!Number.isInteger(G) || G < 1) throw new InputError(`${where}: group size must be a positive integer, got ${G}`);
  if (rowLen % G !== 0 && (G % rowLen !== 0 || numel % G !== 0)) throw new InputError(`${where}: rows of ${rowLen} elements do not split into groups of ${G}`);
}

const roundNearest = (v: number): number => (v < 0 ? -Math.round(-v) : Math.round(v));

/** The rounding function; stochastic rounding draws from `uniform` (a seeded [0, 1) source). */
export function rounder(rounding: Rounding, uniform?: () => number): (v: number) => number {
  if (rounding === 'nearest') return roundNearest;
  if (!uniform) throw new InputError('stochastic rounding needs a uniform random source');
  return (v) => Math.floor(v + uniform());
}

/** Quantizes `x` (shape [.., rowLen], row-major) group by group. */
export function quantizeGroups(x: Float32Array, shape: readonly number[], spec: QuantSpec, round: (v: number) => number = roundNearest, where = 'quantize'): QuantizedGroups {
  const rowLen = shape[shape.length - 1] ?? 1;
  checkSpec(spec, rowLen, x.length, where);
  const { bits, groupSize: G, symmetric } = spec;
  const nGroups = x.length / G;
  const codes = new Uint8Array(x.length);
  const scales = new Float32Array(nGroups);
  const zeros = symmetric ? null : new Uint8Array(nGroups);
  for (let g = 0; g < nGroups; g++) {
    const at = g * G;
    let lo = 0;
    let hi = 0;
    let absSum = 0;
    for (let j = 0; j < G; j++) {
      const v = x[at + j]!;
      if (!Number.isFinite(v)) throw new InputError(`${where}: element ${at + j} is ${v}; only finite weights can be quantized`);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      absSum += Math.abs(v);
    }
    if (symmetric && bits === 1) {
      const s = absSum / G;
      scales[g] = s;
      for (let j = 0; j < G; j++) codes[at + j] = x[at + j]! < 0 ? 0 : 1;
    } else if (symmetric) {
      const qmax = 2 ** (bits - 1) - 1;
      const s = Math.max(-lo, hi) / qmax;
      scales[g] = s;
      const inv = s === 0 ? 0 : 1 / s;
      for (let j = 0; j < G; j++) codes[at + j] = clamp(round(x[at + j]! * inv), -qmax, qmax) + qmax + 1;
    } else {
      const L = 2 ** bits - 1;
      const s = (hi - lo) / L;
      const z = s === 0 ? 0 : clamp(roundNearest(-lo / s), 0, L);
      scales[g] = s;
      zeros![g] = z;
      const inv = s === 0 ? 0 : 1 / s;
      for (let j = 0; j < G; j++) codes[at + j] = clamp(round(x[at + j]! * inv) + z, 0, L);
    }
  }
  return { spec, shape: [...shape], codes, scales, zeros };
}

/** x̂ from codes and scales (float32). */
export function dequantizeGroups(q: QuantizedGroups): Float32Array {
  const { bits, groupSize: G, symmetric } = q.spec;
  const out = new Float32Array(q.codes.length);
  const offset = symmetric ? (bits === 1 ? 0 : 2 ** (bits - 1)) : 0;
  for (let g = 0; g < q.scales.length; g++) {
    const s = q.scales[g]!;
    const z = q.zeros ? q.zeros[g]! : offset;
    for (let j = g * G; j < (g + 1) * G; j++) {
      const c = q.codes[j]!;
      out[j] = symmetric && bits === 1 ? (c ? s : -s) : s * (c - z);
    }
  }
  return out;
}

/** Quantize then dequantize: what QAT's forward sees and what a PTQ model computes with. */
export function fakeQuantize(x: Float32Array, shape: readonly number[], spec: QuantSpec, round?: (v: number) => number, where?: string): Float32Array {
  return dequantizeGroups(quantizeGroups(x, shape, spec, round, where));
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
