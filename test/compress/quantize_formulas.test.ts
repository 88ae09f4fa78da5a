import { describe, expect, it } from 'vitest';
import { dequantizeGroups, fakeQuantize, quantizeGroups, rounder, type QuantSpec } from '../../src/compress/quantize/formulas.ts';
import { packCodes, unpackCodes } from '../../src/compress/quantize/pack.ts';
import { quantizeQ8_0 } from '../../src/inference/loaders/gguf/quant.ts';
import { InputError } from '../../src/errors.ts';
import { seededFloats } from '../helpers/random.ts';

/** The formulas of formulas.ts in float64, written out independently: x̂ per element. */
function reference(x: Float32Array, spec: QuantSpec): Float64Array {
  const out = new Float64Array(x.length);
  const G = spec.groupSize;
  const rnd = (v: number) => Math.sign(v) * Math.round(Math.abs(v));
  for (let g = 0; g < x.length / G; g++) {
    const v = Array.from(x.subarray(g * G, (g + 1) * G), Number);
    if (spec.symmetric && spec.bits === 1) {
      const s = v.reduce((a, b) => a + Math.abs(b), 0) / G;
      v.forEach((e, j) => (out[g * G + j] = e < 0 ? -s : s));
    } else if (spec.symmetric) {
      const qmax = 2 ** (spec.bits - 1) - 1;
      const s = Math.max(...v.map(Math.abs)) / qmax;
      v.forEach((e, j) => (out[g * G + j] = s === 0 ? 0 : s * Math.min(qmax, Math.max(-qmax, rnd(e / s)))));
    } else {
      const L = 2 ** spec.bits - 1;
      const lo = Math.min(0, ...v);
      const hi = Math.max(0, ...v);
      const s = (hi - lo) / L;
      const z = s === 0 ? 0 : Math.min(L, Math.max(0, rnd(-lo / s)));
      v.forEach((e, j) => (out[g * G + j] = s === 0 ? 0 : s * (Math.min(L, Math.max(0, rnd(e / s) + z)) - z)));
    }
  }
  return out;
}

/** Largest |x̂ − ref| relative to the group's largest |x| (float32 scales: ~1e-7). */
function worst(x: Float32Array, got: Float32Array, ref: Float64Array, G: number): number {
  let w = 0;
  for (let g = 0; g < x.length / G; g++) {
    let amax = 1e-30;
    for (let j = g * G; j < (g + 1) * G; j++) amax = Math.max(amax, Math.abs(x[j]!));
    for (let j = g * G; j < (g + 1) * G; j++) w = Math.max(w, Math.abs(got[j]! - ref[j]!) / amax);
  }
  return w;
}

const extremes = (G: number): Float32Array => {
  const rows = [
    new Array(G).fill(0), // all zeros: s = 0
    new Array(G).fill(0.37), // constant
    new Array(G).fill(-2.5), // constant, negative
    Array.from({ length: G }, (_, j) => (j === 3 ? 1000 : 1e-3 * j)), // one outlier
    Array.from({ length: G }, (_, j) => -1 - j / G), // all negative
    Array.from({ length: G }, (_, j) => (j % 2 ? 1e-30 : -3e-31)), // tiny
    Array.from({ length: G }, (_, j) => (j === 0 ? -65504 : j === 1 ? 65504 : 0)), // ±fp16 max
  ];
  return Float32Array.from(rows.flat());
};

describe('group quantization vs a float64 reference', () => {
  for (const symmetric of [true, false]) {
    for (const bits of [1, 2, 3, 4, 5, 6, 7, 8]) {
      for (const G of [32, 128]) {
        it(`${symmetric ? 'symmetric' : 'asymmetric'} ${bits}-bit, groups of ${G}: random and extreme rows`, () => {
          const spec = { bits, groupSize: G, symmetric };
          for (const x of [seededFloats(4 * G, bits * 7 + G, 0.1), extremes(G)]) {
            const shape = [x.length / G, G];
            const got = fakeQuantize(x, shape, spec);
            expect(worst(x, got, reference(x, spec), G)).toBeLessThan(1e-6);
          }
        });
      }
    }
  }

  it('keeps the extremes: zeros stay 0, ±max are exact for symmetric, min and max within half a step for asymmetric', () => {
    const x = extremes(32);
    const sym = fakeQuantize(x, [7, 32], { bits: 8, groupSize: 32, symmetric: true });
    expect(Array.from(sym.subarray(0, 32))).toEqual(new Array(32).fill(0));
    expect(sym[3 * 32 + 3]).toBeCloseTo(1000, 3);
    expect(sym[6 * 32]).toBe(-65504);
    expect(sym[6 * 32 + 1]).toBe(65504);
    const asym = fakeQuantize(x, [7, 32], { bits: 4, groupSize: 32, symmetric: false });
    for (let g = 0; g < 7; g++) {
      const row = Array.from(x.subarray(g * 32, g * 32 + 32));
      const step = (Math.max(0, ...row) - Math.min(0, ...row)) / 15;
      for (let j = 0; j < 32; j++) expect(Math.abs(asym[g * 32 + j]! - row[j]!)).toBeLessThanOrEqual(step / 2 + 1e-6 * Math.max(1, Math.abs(row[j]!)));
    }
    expect(Array.from(asym.subarray(0, 32))).toEqual(new Array(32).fill(0));
  });

  it('int8 per output channel: one scale per row, error at most half a step', () => {
    const x = seededFloats(16 * 96, 5, 0.5);
    const q = quantizeGroups(x, [16, 96], { bits: 8, groupSize: 96, symmetric: true });
    expect(q.scales.length).toBe(16);
    const y = dequantizeGroups(q);
    for (let r = 0; r < 16; r++) for (let j = 0; j < 96; j++) expect(Math.abs(y[r * 96 + j]! - x[r * 96 + j]!)).toBeLessThanOrEqual(q.scales[r]! / 2 + 1e-7);
  });

  it('stochastic rounding is unbiased: the mean of many draws approaches x', () => {
    const x = Float32Array.from({ length: 32 }, (_, j) => (j === 0 ? 1 : 0.013 * j - 0.2));
    let s = 12345;
    const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
    const mean = new Float64Array(32);
    const N = 4000;
    for (let i = 0; i < N; i++) fakeQuantize(x, [1, 32], { bits: 2, groupSize: 32, symmetric: true }, rounder('stochastic', u)).forEach((v, j) => (mean[j]! += v / N));
    for (let j = 0; j < 32; j++) expect(Math.abs(mean[j]! - x[j]!)).toBeLessThan(0.03);
  });

  it('int8 groups of 32 give the codes of GGUF Q8_0 (ggml reference quantizer)', () => {
    const x = seededFloats(32 * 20, 11, 2);
    const q = quantizeGroups(x, [20, 32], { bits: 8, groupSize: 32, symmetric: true });
    const q80 = quantizeQ8_0(x);
    const dv = new DataView(q80.buffer);
    for (let b = 0; b < 20; b++) for (let j = 0; j < 32; j++) expect(q.codes[b * 32 + j]! - 128).toBe(dv.getInt8(b * 34 + 2 + j));
  });

  it('refuses bits outside 1..8, a group size that does not divide the rows, and non-finite weights', () => {
    const x = new Float32Array(64);
    expect(() => quantizeGroups(x, [2, 32], { bits: 0, groupSize: 32, symmetric: true })).toThrow(/bits must be an integer in 1\.\.8, got 0/);
    expect(() => quantizeGroups(x, [2, 32], { bits: 9, groupSize: 32, symmetric: true })).toThrow(InputError);
    expect(() => quantizeGroups(x, [1, 64], { bits: 4, groupSize: 48, symmetric: true }, undefined, 'w')).toThrow(/w: rows of 64 elements do not split into groups of 48/);
    x[5] = NaN;
    expect(() => quantizeGroups(x, [2, 32], { bits: 4, groupSize: 32, symmetric: true })).toThrow(/element 5 is NaN/);
  });
});

describe('code packing', () => {
  it('packs 4-bit codes two a byte (low nibble first) and 8-bit codes one a byte, and reads them back', () => {
    const c4 = Uint8Array.from({ length: 33 }, (_, i) => i % 16);
    const p4 = packCodes(c4, 4);
    expect(p4.length).toBe(17);
    expect(p4[0]).toBe(0x10);
    expect(Array.from(unpackCodes(p4, 33, 4, 'f'))).toEqual(Array.from(c4));
    const c8 = Uint8Array.from({ length: 10 }, (_, i) => 250 + (i % 6));
    expect(Array.from(unpackCodes(packCodes(c8, 8), 10, 8, 'f'))).toEqual(Array.from(c8));
    expect(() => unpackCodes(new Uint8Array(3), 10, 4, 'x.safetensors')).toThrow(/x\.safetensors: packed codes are 3 bytes; 10 codes of 4 bits need 5/);
    expect(() => unpackCodes(Uint8Array.of(0x0f), 2, 3, 'x')).toThrow(/code 15 at element 0 does not fit in 3 bits/);
  });
});
