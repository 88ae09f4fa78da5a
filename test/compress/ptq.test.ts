import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dequantizeWeights, quantizeWeights, type PtqOptions } from '../../src/compress/quantize/ptq.ts';
import { readPackedWeights, writePackedWeights } from '../../src/compress/quantize/file.ts';
import { writeSafetensors } from '../../src/inference/loaders/safetensors/writer.ts';
import type { HostTensor } from '../../src/inference/loaders/types.ts';
import { FormatError } from '../../src/errors.ts';
import { seededFloats } from '../helpers/random.ts';

const dir = mkdtempSync(join(tmpdir(), 'ds-ptq-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const weights = (): Map<string, HostTensor> => new Map([
  ['model.embed_tokens.weight', { shape: [40, 128], data: seededFloats(40 * 128, 1, 0.05) }],
  ['model.layers.0.mlp.down_proj.weight', { shape: [128, 384], data: seededFloats(128 * 384, 2, 0.02) }],
  ['model.norm.weight', { shape: [128], data: seededFloats(128, 3, 1) }],
]);

describe('PTQ of a model: packed file round trip and size', () => {
  const cases: [string, PtqOptions, number][] = [
    ['int8 per channel, symmetric', { scheme: 'int8' }, 8],
    ['int8 per channel, asymmetric', { scheme: 'int8', symmetric: false }, 8],
    ['int4 g32 symmetric', { scheme: 'int4', groupSize: 32 }, 4],
    ['int4 g64 asymmetric', { scheme: 'int4', groupSize: 64, symmetric: false }, 4],
    ['int4 g128 symmetric', { scheme: 'int4', groupSize: 128 }, 4],
  ];
  for (const [label, opts, bits] of cases) {
    it(`${label}: the loader reads back the same values; the file is about ${bits}/32 of float32`, () => {
      const w = weights();
      const q = quantizeWeights(w, opts);
      expect(q.get('model.norm.weight')!.kind).toBe('float');
      const path = join(dir, `${label.replace(/\W+/g, '_')}.safetensors`);
      const written = writePackedWeights(path, q);
      expect(statSync(path).size).toBe(written);
      const back = dequantizeWeights(readPackedWeights(path));
      const direct = dequantizeWeights(q);
      for (const [name, t] of direct) expect(Buffer.from(back.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer))).toBe(true);
      const floatBytes = [...w.values()].reduce((a, t) => a + 4 * t.data.length, 0);
      const ratio = written / floatBytes;
      expect(ratio).toBeGreaterThan(bits / 32);
      expect(ratio).toBeLessThan(bits / 32 + 0.06);
      // Error of each weight within half a quantization step of its group (checked in float64).
      const dp = q.get('model.layers.0.mlp.down_proj.weight')!;
      if (dp.kind !== 'quantized') throw new Error('not quantized');
      const x = w.get('model.layers.0.mlp.down_proj.weight')!.data;
      const y = direct.get('model.layers.0.mlp.down_proj.weight')!.data;
      const G = dp.q.spec.groupSize;
      let excess = -Infinity;
      for (let i = 0; i < x.length; i++) excess = Math.max(excess, Math.abs(y[i]! - x[i]!) - dp.q.scales[Math.floor(i / G)]! / 2);
      expect(excess).toBeLessThanOrEqual(1e-7);
    });
  }

  it('refuses a group size other than 32/64/128 for int4, and one that does not divide a row', () => {
    expect(() => quantizeWeights(weights(), { scheme: 'int4', groupSize: 16 })).toThrow(/int4 group size 16 is not one of 32, 64, 128/);
    const odd = new Map([['w', { shape: [2, 96], data: new Float32Array(192) }]]);
    expect(() => quantizeWeights(odd, { scheme: 'int4', groupSize: 64 })).toThrow(/"w" \[2, 96\]: rows of 96 elements do not split into groups of 64/);
  });

  it('a plain safetensors file or a truncated one is a FormatError naming the file', () => {
    const plain = join(dir, 'plain.safetensors');
    writeSafetensors(plain, weights());
    expect(() => readPackedWeights(plain)).toThrow(FormatError);
    expect(() => readPackedWeights(plain)).toThrow(/plain\.safetensors: __metadata__\.format is undefined, not "deepscale-ptq"/);
    const full = join(dir, 'full.safetensors');
    writePackedWeights(full, quantizeWeights(weights(), { scheme: 'int8' }));
    const bytes = readFileSync(full);
    const cut = join(dir, 'cut.safetensors');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    expect(() => readPackedWeights(cut)).toThrow(/cut\.safetensors: tensor ".*": data_offsets \[\d+, \d+\] lie outside the file/);
  });
});
