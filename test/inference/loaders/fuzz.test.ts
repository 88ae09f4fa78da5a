/**
 * Corrupt files (truncated at many offsets, random bytes flipped) either load or throw a
 * FormatError naming the file — never another exception, a hang, or a huge allocation.
 */
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../../src/errors.ts';
import { loadGgufBytes } from '../../../src/inference/loaders/gguf/load.ts';
import { parseGguf } from '../../../src/inference/loaders/gguf/reader.ts';
import { TENSOR_TYPES } from '../../../src/inference/loaders/gguf/tensor_types.ts';
import { encodeGguf } from '../../../src/inference/loaders/gguf/writer.ts';
import type { GgufTensorToWrite } from '../../../src/inference/loaders/gguf/writer.ts';
import { modelConfigToGguf } from '../../../src/inference/loaders/gguf/hparams.ts';
import { hfToGgufName } from '../../../src/inference/loaders/gguf/names.ts';
import { gpt2TokenizerKv, llamaTokenizerKv } from '../../../src/inference/loaders/gguf/tokenizer_kv.ts';
import { parseSafetensors } from '../../../src/inference/loaders/safetensors/reader.ts';
import { encodeSafetensors } from '../../../src/inference/loaders/safetensors/writer.ts';
import { randomWeights, rng, tinyBpeVocab, tinyConfig } from '../../helpers/random_llama.ts';
import { tinySpmVocab } from '../../helpers/spm_vocab.ts';

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

const small = { hiddenSize: 32, numHeads: 2, numKvHeads: 1, headDim: 16, intermediateSize: 32, numLayers: 1 };

function ggufBytes(kind: 'gpt2' | 'llama'): Uint8Array {
  const spm = tinySpmVocab();
  const config = tinyConfig({ ...small, vocabSize: kind === 'gpt2' ? 300 : spm.tokens.length });
  const bpe = tinyBpeVocab(300);
  const tok = kind === 'gpt2'
    ? gpt2TokenizerKv(bpe.tokens, bpe.types, bpe.merges, { bos: 256, eos: 257, chatTemplate: '{{ messages }}' })
    : llamaTokenizerKv(spm.tokens, spm.scores, spm.types, { bos: 1, eos: 2, unk: 0, addBos: true, addSpacePrefix: true });
  const md = modelConfigToGguf(config);
  for (const [k, v] of tok) md.set(k, v);
  const tensors: GgufTensorToWrite[] = [...randomWeights(config)].map(([name, t], i) => ({
    name: hfToGgufName(name)!, shape: t.shape, data: t.data, type: t.shape.length === 1 ? 'F32' : (['Q8_0', 'F16', 'Q4_0', 'F32'] as const)[i % 4]!,
  }));
  return concat(encodeGguf(md, tensors));
}

/** A model whose linear weights are Q2_K … Q6_K, Q8_0, Q4_1, Q5_0, Q5_1, F16 and BF16 (rows of 256). */
function kquantGguf(): Uint8Array {
  const config = tinyConfig({ hiddenSize: 256, numHeads: 4, numKvHeads: 2, headDim: 64, intermediateSize: 256, numLayers: 1, vocabSize: 300 });
  const bpe = tinyBpeVocab(300);
  const md = modelConfigToGguf(config);
  for (const [k, v] of gpt2TokenizerKv(bpe.tokens, bpe.types, bpe.merges, { bos: 256, eos: 257 })) md.set(k, v);
  const types = ['Q4_K', 'Q5_K', 'Q6_K', 'Q2_K', 'Q3_K', 'Q8_0', 'Q4_1', 'Q5_0', 'Q5_1', 'F16', 'BF16'] as const;
  const tensors: GgufTensorToWrite[] = [...randomWeights(config)].map(([name, t], i) => ({
    name: hfToGgufName(name)!, shape: t.shape, data: t.data, type: t.shape.length === 1 ? 'F32' : types[i % types.length]!,
  }));
  return concat(encodeGguf(md, tensors));
}

/** Runs `load` on each mutated copy; returns how many loaded. Fails on any non-FormatError. */
function survey(cases: Iterable<[string, Uint8Array]>, load: (b: Uint8Array) => unknown, file: string): { ok: number; rejected: number } {
  let ok = 0;
  let rejected = 0;
  for (const [what, bytes] of cases) {
    try {
      load(bytes);
      ok++;
    } catch (e) {
      if (!(e instanceof FormatError) || !e.message.startsWith(`${file}: `)) {
        throw new Error(`${what}: expected a FormatError naming ${file}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
      }
      rejected++;
    }
  }
  return { ok, rejected };
}

function* truncations(b: Uint8Array, headerEnd: number, step: number): Generator<[string, Uint8Array]> {
  for (let n = 0; n < b.length; n += n < headerEnd ? 1 : step) yield [`truncated to ${n}`, b.slice(0, n)];
}

function* flips(b: Uint8Array, count: number, seed: number, region: number): Generator<[string, Uint8Array]> {
  const r = rng(seed);
  for (let i = 0; i < count; i++) {
    const c = b.slice();
    const spots: number[] = [];
    const k = 1 + Math.floor(r.uniform() * 3);
    for (let j = 0; j < k; j++) {
      const at = Math.floor(r.uniform() * Math.min(region, b.length));
      c[at] = Math.floor(r.uniform() * 256);
      spots.push(at);
    }
    yield [`bytes changed at ${spots.join(', ')}`, c];
  }
}

describe('fuzz', () => {
  it.each(['gpt2', 'llama'] as const)('GGUF with a %s tokenizer', (kind) => {
    const b = ggufBytes(kind);
    expect(() => loadGgufBytes(b, 'f.gguf')).not.toThrow();
    // The header (metadata + tensor infos) is where corrupt lengths live: cover it byte by byte.
    const headerEnd = Math.min(...parseGguf(b, 'f.gguf').tensors.map((t) => t.offset));
    const t0 = Date.now();
    const trunc = survey(truncations(b, headerEnd, 997), (x) => loadGgufBytes(x, 'f.gguf'), 'f.gguf');
    expect(trunc.ok).toBe(0); // every truncation loses a tensor's bytes
    const flipped = survey(flips(b, 400, kind.length, headerEnd), (x) => loadGgufBytes(x, 'f.gguf'), 'f.gguf');
    expect(flipped.rejected).toBeGreaterThan(0);
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it('GGUF of k-quant, Q8_0 and 16-bit blocks: cut anywhere; data blocks rejected exactly when a scale turns non-finite', () => {
    const b = kquantGguf();
    const g = parseGguf(b, 'k.gguf');
    expect(() => loadGgufBytes(b, 'k.gguf')).not.toThrow();
    const headerEnd = Math.min(...g.tensors.map((t) => t.offset));
    const trunc = survey(truncations(b, headerEnd, 4999), (x) => loadGgufBytes(x, 'k.gguf'), 'k.gguf');
    expect(trunc.ok).toBe(0);
    // Data section: each case writes random bytes over 1-3 spots of one block (scales included).
    const r = rng(17);
    const cases: [string, Uint8Array][] = [];
    let expectRejected = 0;
    for (let i = 0; i < 300; i++) {
      const t = g.tensors[Math.floor(r.uniform() * g.tensors.length)]!;
      const codec = TENSOR_TYPES[t.type]!;
      const block = t.offset + codec.bytes * Math.floor(r.uniform() * (t.nbytes / codec.bytes));
      const c = b.slice();
      const spots = codec.scales.length > 0 && r.uniform() < 0.5 ? codec.scales : [Math.floor(r.uniform() * codec.bytes) & ~1];
      for (const s of spots) (c[block + s] = Math.floor(r.uniform() * 256)), (c[block + s + 1] = r.uniform() < 0.3 ? 0x7c | Math.floor(r.uniform() * 4) : Math.floor(r.uniform() * 256));
      // corrupt iff a half the loader checks (a block's scale; any F16 value; a BF16 value's exponent) is Inf/NaN
      const halves = t.type === 0 ? [] : codec.scales.length > 0 ? codec.scales : [0];
      const bad = halves.some((s) => {
        const h = c[block + s]! | (c[block + s + 1]! << 8);
        return t.type === 30 ? (h & 0x7f80) === 0x7f80 : (h & 0x7c00) === 0x7c00;
      });
      if (bad) expectRejected++;
      cases.push([`${t.name} block at ${block}`, c]);
    }
    const data = survey(cases, (x) => loadGgufBytes(x, 'k.gguf'), 'k.gguf');
    expect(expectRejected).toBeGreaterThan(20);
    expect(data.rejected).toBe(expectRejected);
  });

  it('safetensors', () => {
    const b = concat(encodeSafetensors(randomWeights(tinyConfig(small)), { format: 'pt' }, 'BF16'));
    expect(() => parseSafetensors(b, 'f.safetensors')).not.toThrow();
    const headerEnd = 8 + Number(new DataView(b.buffer).getBigUint64(0, true));
    const trunc = survey(truncations(b, headerEnd, 331), (x) => parseSafetensors(x, 'f.safetensors'), 'f.safetensors');
    expect(trunc.ok).toBe(0);
    const flipped = survey(flips(b, 1500, 5, headerEnd), (x) => parseSafetensors(x, 'f.safetensors'), 'f.safetensors');
    expect(flipped.rejected).toBeGreaterThan(0);
  });
});
