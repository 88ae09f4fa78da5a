import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../../src/errors.ts';
import { f16ToF32 } from '../../../src/inference/loaders/dtype.ts';
import { permuteQkForGguf, unpermuteQkFromGguf } from '../../../src/inference/loaders/gguf/permute.ts';
import { dequantizeQ4_0, dequantizeQ8_0, quantizeQ4_0, quantizeQ8_0 } from '../../../src/inference/loaders/gguf/quant.ts';
import { parseGguf, readGguf, readTensorData } from '../../../src/inference/loaders/gguf/reader.ts';
import { encodeGguf, writeGguf } from '../../../src/inference/loaders/gguf/writer.ts';
import type { GgufKv } from '../../../src/inference/loaders/gguf/writer.ts';
import { ggufToHfName, hfToGgufName } from '../../../src/inference/loaders/gguf/names.ts';
import { randomWeights, rng, tinyBpeVocab, tinyConfig } from '../../helpers/random_llama.ts';
import { loadGgufBytes } from '../../../src/inference/loaders/gguf/load.ts';
import { modelConfigToGguf } from '../../../src/inference/loaders/gguf/hparams.ts';
import { gpt2TokenizerKv } from '../../../src/inference/loaders/gguf/tokenizer_kv.ts';

const dir = mkdtempSync(join(tmpdir(), 'ds-gguf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

function randn(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r.normal());
}

describe('GGUF reader and writer', () => {
  it('round-trip metadata of every value type and tensors in each type, with shapes slowest-first', () => {
    const md = new Map<string, GgufKv>([
      ['u8', { type: 'u8', value: 200 }], ['i8', { type: 'i8', value: -100 }], ['u16', { type: 'u16', value: 60000 }],
      ['i16', { type: 'i16', value: -30000 }], ['u32', { type: 'u32', value: 4e9 }], ['i32', { type: 'i32', value: -2e9 }],
      ['f32', { type: 'f32', value: 0.5 }], ['bool', { type: 'bool', value: true }], ['str', { type: 'string', value: 'héllo ▁' }],
      ['u64', { type: 'u64', value: 2 ** 40 }], ['i64', { type: 'i64', value: -(2 ** 40) }], ['f64', { type: 'f64', value: Math.PI }],
      ['arr.s', { type: 'array', itemType: 'string', value: ['a', '', 'c'] }], ['arr.f', { type: 'array', itemType: 'f32', value: [1.5, -2] }],
      ['general.alignment', { type: 'u32', value: 64 }],
    ]);
    const w = randn(64 * 3, 1);
    const path = join(dir, 'rt.gguf');
    writeGguf(path, md, [
      { name: 'f32', shape: [3, 64], data: w, type: 'F32' },
      { name: 'f16', shape: [3, 64], data: w, type: 'F16' },
      { name: 'q8', shape: [3, 64], data: w, type: 'Q8_0' },
      { name: 'q4', shape: [3, 64], data: w, type: 'Q4_0' },
      { name: 'vec', shape: [5], data: randn(5, 2), type: 'F32' },
    ]);
    const g = readGguf(path);
    expect(g.version).toBe(3);
    expect(g.alignment).toBe(64);
    for (const [k, v] of md) expect(g.metadata.get(k), k).toEqual(v.type === 'f32' || v.type === 'array' ? v.value : v.value);
    const byName = new Map(g.tensors.map((t) => [t.name, t]));
    for (const t of g.tensors) expect((t.offset) % 64).toBe(0);
    expect(byName.get('f32')!.shape).toEqual([3, 64]);
    // ne[0] on disk is the fastest dim: 64.
    const f32 = byName.get('f32')!;
    expect(readTensorData(g, f32)).toEqual(w);
    const f16 = readTensorData(g, byName.get('f16')!);
    w.forEach((v, i) => expect(Math.abs(f16[i]! - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 1e-7));
    // Quantized: error within half a step of the block's scale for Q8_0. Q4_0 maps the block's
    // extreme to -8·d, so the opposite side's largest value clamps at +7·d: up to one full step.
    for (const [name, levels, steps] of [['q8', 127, 0.51], ['q4', 8, 1.0]] as const) {
      const got = readTensorData(g, byName.get(name)!);
      for (let b = 0; b < w.length / 32; b++) {
        const amax = Math.max(...w.subarray(b * 32, b * 32 + 32).map(Math.abs));
        for (let j = 0; j < 32; j++) expect(Math.abs(got[b * 32 + j]! - w[b * 32 + j]!)).toBeLessThanOrEqual((amax / levels) * steps + 1e-3 * amax);
      }
    }
  });

  it('dequantizes Q8_0 and Q4_0 blocks as ggml lays them out', () => {
    // One hand-built Q8_0 block: d = 0.5 (f16 0x3800), q = -16..15.
    const q8 = new Uint8Array(34);
    const dv = new DataView(q8.buffer);
    dv.setUint16(0, 0x3800, true);
    for (let j = 0; j < 32; j++) dv.setInt8(2 + j, j - 16);
    expect([...dequantizeQ8_0(q8, 0, 32)]).toEqual(Array.from({ length: 32 }, (_, j) => 0.5 * (j - 16)));
    // One Q4_0 block: d = 2; byte j holds element j (low nibble) and element j + 16 (high nibble).
    const q4 = new Uint8Array(18);
    new DataView(q4.buffer).setUint16(0, 0x4000, true);
    for (let j = 0; j < 16; j++) q4[2 + j] = (j & 15) | ((15 - j) << 4);
    const want = [...Array.from({ length: 16 }, (_, j) => 2 * (j - 8)), ...Array.from({ length: 16 }, (_, j) => 2 * (15 - j - 8))];
    expect([...dequantizeQ4_0(q4, 0, 32)]).toEqual(want);
    expect(f16ToF32(0x4000)).toBe(2);
    // The quantizers are idempotent on their own output (the largest element maps to ±127 / -8 again).
    const x = randn(96, 5);
    expect(quantizeQ8_0(dequantizeQ8_0(quantizeQ8_0(x), 0, 96))).toEqual(quantizeQ8_0(x));
    expect(quantizeQ4_0(dequantizeQ4_0(quantizeQ4_0(x), 0, 96))).toEqual(quantizeQ4_0(x));
  });

  it('maps every llama tensor name both ways', () => {
    for (const hf of ['model.embed_tokens.weight', 'model.norm.weight', 'lm_head.weight', 'model.layers.11.self_attn.o_proj.weight', 'model.layers.0.mlp.gate_proj.weight', 'model.layers.3.post_attention_layernorm.weight']) {
      expect(ggufToHfName(hfToGgufName(hf)!)).toBe(hf);
    }
    expect(hfToGgufName('model.layers.2.self_attn.k_proj.weight')).toBe('blk.2.attn_k.weight');
    expect(ggufToHfName('rope_freqs.weight')).toBeNull();
  });

  it('permuteQkForGguf and unpermuteQkFromGguf are inverses and pair (i, i + Dh/2) at (2i, 2i + 1)', () => {
    const heads = 3;
    const dh = 8;
    const w = { shape: [heads * dh, 5], data: randn(heads * dh * 5, 9) };
    const p = permuteQkForGguf(w, heads);
    expect(unpermuteQkFromGguf(p, heads).data).toEqual(w.data);
    const row = (t: { data: Float32Array }, r: number): number[] => [...t.data.subarray(r * 5, r * 5 + 5)];
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < dh / 2; i++) {
        expect(row(p, h * dh + 2 * i)).toEqual(row(w, h * dh + i));
        expect(row(p, h * dh + 2 * i + 1)).toEqual(row(w, h * dh + i + dh / 2));
      }
    }
  });

  it.each([
    ['bad magic', (b: Uint8Array) => { b[0] = 0x58; }, /bad magic/],
    ['version 1', (b: Uint8Array) => { new DataView(b.buffer).setUint32(4, 1, true); }, /version 1 is not supported/],
    ['a huge tensor count', (b: Uint8Array) => { new DataView(b.buffer).setBigUint64(8, 1n << 50n, true); }, /tensor_count \d+ cannot fit/],
    ['a huge kv count', (b: Uint8Array) => { new DataView(b.buffer).setBigUint64(16, 1n << 50n, true); }, /kv_count \d+ cannot fit/],
  ])('rejects %s with a FormatError naming the file and offset', (_what, corrupt, msg) => {
    const b = concat(encodeGguf(new Map([['k', { type: 'u32', value: 1 }]]), [{ name: 't', shape: [32], data: randn(32, 1), type: 'F32' }]));
    corrupt(b);
    const run = (): unknown => parseGguf(b, 'x.gguf');
    expect(run).toThrow(FormatError);
    expect(run).toThrow(/^x\.gguf: .*offset \d+/);
    expect(run).toThrow(msg);
  });

  it('rejects a tensor whose data runs past the end, naming the tensor', () => {
    const b = concat(encodeGguf(new Map(), [{ name: 'blk.0.attn_q.weight', shape: [4, 32], data: randn(128, 1), type: 'F32' }]));
    expect(() => parseGguf(b.subarray(0, b.length - 4), 'y.gguf')).toThrow(/tensor "blk.0.attn_q.weight".*run past/);
  });
});

describe('a GGUF whose tokens and vocabulary disagree', () => {
  const config = tinyConfig({ numLayers: 1 });
  const gguf = (tokenCount: number) => {
    const v = tinyBpeVocab(config.vocabSize);
    const md = modelConfigToGguf(config); // llama.vocab_size = the embedding's rows
    for (const [k, kv] of gpt2TokenizerKv(v.tokens.slice(0, tokenCount), v.types.slice(0, tokenCount), v.merges, { bos: 256, eos: 257 })) md.set(k, kv);
    const tensors = [...randomWeights(config, 2)].map(([name, t]) => ({ name: hfToGgufName(name)!, shape: t.shape, data: t.data, type: 'F32' as const }));
    return concat(encodeGguf(md, tensors));
  };

  it('loads when they agree, and is a load error naming both counts when they do not (never ids that decode to nothing)', () => {
    expect(loadGgufBytes(gguf(config.vocabSize), 'ok.gguf').tokenizer.vocabSize).toBe(config.vocabSize);
    const V = config.vocabSize;
    expect(() => loadGgufBytes(gguf(V - 3), 'short.gguf')).toThrow(new RegExp(`^short\\.gguf: tokenizer\\.ggml\\.tokens has ${V - 3} tokens but the model's vocabulary .* is ${V}: ids ${V - 3}\\.\\.${V - 1} would decode to no text`));
  });
});
