/**
 * The block formats as a user meets them: what deepscale's quantizers keep of a tensor, a GGUF
 * whose tensor type is not read, and a corrupt block, each named in one FormatError.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/data/rng.ts';
import { FormatError } from '../../../src/errors.ts';
import { GgmlType } from '../../../src/inference/loaders/gguf/constants.ts';
import { loadGgufBytes } from '../../../src/inference/loaders/gguf/load.ts';
import { modelConfigToGguf } from '../../../src/inference/loaders/gguf/hparams.ts';
import { hfToGgufName } from '../../../src/inference/loaders/gguf/names.ts';
import { parseGguf } from '../../../src/inference/loaders/gguf/reader.ts';
import { TENSOR_TYPES } from '../../../src/inference/loaders/gguf/tensor_types.ts';
import { gpt2TokenizerKv } from '../../../src/inference/loaders/gguf/tokenizer_kv.ts';
import { encodeGguf, type GgufWriteType } from '../../../src/inference/loaders/gguf/writer.ts';
import { randomWeights, tinyBpeVocab, tinyConfig } from '../../helpers/random_llama.ts';

describe('quantizers keep the tensor', () => {
  const rng = new Rng(2);
  const x = Float32Array.from({ length: 4096 }, () => rng.normal() * (rng.int(16) === 0 ? 8 : 1));
  it.each([
    ['Q8_0', 0.01], ['Q6_K', 0.03], ['Q3_K', 0.3], ['Q2_K', 0.5], ['Q5_K', 0.06], ['Q4_K', 0.12], ['Q4_0', 0.2], ['Q4_1', 0.12], ['Q5_0', 0.1], ['Q5_1', 0.06], ['F16', 1e-3], ['BF16', 5e-3],
  ] as const)('%s: relative RMS error under %f', (name, bound) => {
    const t = TENSOR_TYPES[GgmlType[name]]!;
    const bytes = t.quantize(x);
    expect(bytes.length).toBe((x.length / t.elems) * t.bytes);
    const y = t.dequantize(bytes, 0, x.length);
    let err = 0;
    let ref = 0;
    for (let i = 0; i < x.length; i++) (err += (y[i]! - x[i]!) ** 2), (ref += x[i]! ** 2);
    expect(Math.sqrt(err / ref)).toBeLessThan(bound);
  });

  it.each(['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K'] as const)('%s: an all-zero and a constant block come back exactly', (name) => {
    const t = TENSOR_TYPES[GgmlType[name]]!;
    const z = new Float32Array(256);
    expect([...t.dequantize(t.quantize(z), 0, 256)].every((v) => v === 0)).toBe(true);
    const c = new Float32Array(256).fill(-0.5);
    const back = t.dequantize(t.quantize(c), 0, 256);
    for (const v of back) expect(v).toBeCloseTo(-0.5, 3);
  });
});

const config = tinyConfig({ hiddenSize: 256, intermediateSize: 256, numHeads: 4, numKvHeads: 2, headDim: 64, numLayers: 1, ropeStyle: 'adjacent' });

function gguf(type: GgufWriteType): Uint8Array {
  const v = tinyBpeVocab(config.vocabSize);
  const md = modelConfigToGguf(config);
  for (const [k, kv] of gpt2TokenizerKv(v.tokens, v.types, v.merges, { bos: 256, eos: 257 })) md.set(k, kv);
  const tensors = [...randomWeights(config, 4)].map(([name, t]) => ({ name: hfToGgufName(name)!, shape: t.shape, data: t.data, type: t.shape.length === 1 ? ('F32' as const) : type }));
  const chunks = encodeGguf(md, tensors);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) (out.set(c, at), (at += c.length));
  return out;
}

/** Byte offset of the u32 type of tensor `name` in the tensor infos. */
function typeFieldOf(b: Uint8Array, name: string): number {
  const key = new TextEncoder().encode(name);
  for (let i = 0; i + key.length < b.length; i++) {
    if (key.every((c, j) => b[i + j] === c) && new DataView(b.buffer, b.byteOffset).getBigUint64(i - 8, true) === BigInt(key.length)) {
      const nDims = new DataView(b.buffer, b.byteOffset).getUint32(i + key.length, true);
      return i + key.length + 4 + 8 * nDims;
    }
  }
  throw new Error(`no tensor info for ${name}`);
}

describe('loading a GGUF with blocks it cannot use', () => {
  it('names a tensor type it does not read, and the tensor', () => {
    const b = gguf('Q8_0');
    new DataView(b.buffer).setUint32(typeFieldOf(b, 'blk.0.ffn_up.weight'), 16, true); // IQ2_XXS
    expect(() => loadGgufBytes(b, 'm.gguf')).toThrow(FormatError);
    expect(() => loadGgufBytes(b, 'm.gguf')).toThrow(/m\.gguf: tensor "blk\.0\.ffn_up\.weight".*ggml type 16 \(IQ2_XXS\) is not supported/);
  });

  it.each([['Q4_K', 0], ['Q4_K', 2], ['Q6_K', 208], ['Q8_0', 0], ['F16', 0]] as const)('%s: a non-finite scale at byte %i of a block is one FormatError naming the tensor and the block offset', (type, at) => {
    const b = gguf(type);
    const info = parseGguf(b, 'm.gguf').tensors.find((t) => t.name === 'blk.0.attn_k.weight')!;
    const block = TENSOR_TYPES[GgmlType[type]]!.bytes;
    const where = info.offset + 3 * block + at;
    b[where] = 0x00;
    b[where + 1] = 0x7c; // f16 +Inf
    expect(() => loadGgufBytes(b, 'm.gguf')).toThrow(`m.gguf: tensor "blk.0.attn_k.weight" (${type}): block at offset ${info.offset + 3 * block + (type === 'F16' ? at : 0)} has a non-finite scale or value`);
  });
});
