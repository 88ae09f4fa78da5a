/**
 * Architecture dispatch at load: what a GGUF names that deepscale cannot run is refused by name,
 * never loaded with a tensor or a key ignored. (llama.cpp agreement per architecture: llama_cpp.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../../src/errors.ts';
import { loadGguf } from '../../../src/inference/loaders/gguf/load.ts';
import { modelConfigToGguf } from '../../../src/inference/loaders/gguf/hparams.ts';
import { hfToGgufName } from '../../../src/inference/loaders/gguf/names.ts';
import { gpt2TokenizerKv } from '../../../src/inference/loaders/gguf/tokenizer_kv.ts';
import { writeGguf, type GgufKv, type GgufTensorToWrite } from '../../../src/inference/loaders/gguf/writer.ts';
import type { ModelConfig } from '../../../src/models/types.ts';
import { randomWeights, tinyBpeVocab, tinyConfig } from '../../helpers/random_llama.ts';

const dir = mkdtempSync(join(tmpdir(), 'ds-arch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Patch {
  readonly md?: [string, GgufKv][];
  readonly drop?: string[];
  readonly extra?: GgufTensorToWrite[];
}

let n = 0;
/** A GGUF of `config` (its architecture from its extras), metadata and tensors patched. */
function write(config: ModelConfig, patch: Patch = {}): string {
  const v = tinyBpeVocab(config.vocabSize);
  const md = modelConfigToGguf(config);
  for (const [k, val] of gpt2TokenizerKv(v.tokens, v.types, v.merges, { bos: 256, eos: 257 })) md.set(k, val);
  for (const [k, val] of patch.md ?? []) md.set(k, val);
  const tensors: GgufTensorToWrite[] = [...randomWeights(config)]
    .map(([hf, t]) => ({ name: hfToGgufName(hf)!, shape: t.shape, data: t.data, type: 'F32' as const }))
    .filter((t) => !(patch.drop ?? []).includes(t.name));
  const path = join(dir, `m${n++}.gguf`);
  writeGguf(path, md, [...tensors, ...(patch.extra ?? [])]);
  return path;
}

const f32 = (name: string, len: number, value = 1): GgufTensorToWrite => ({ name, shape: [len], data: new Float32Array(len).fill(value), type: 'F32' });

describe('GGUF architectures', () => {
  const llama = tinyConfig();
  const qwen2 = tinyConfig({ attentionBias: true });

  it('loads llama, qwen2 and qwen3 with the extras each one has', () => {
    expect(loadGguf(write(llama)).config).not.toHaveProperty('attentionBias');
    expect(loadGguf(write(qwen2)).config).toMatchObject({ attentionBias: true, ropeStyle: 'half' });
    expect(loadGguf(write(tinyConfig({ qkNorm: true }))).config).toMatchObject({ qkNorm: true, ropeStyle: 'half' });
  });

  it('handles a llama GGUF with rope_freqs (Llama 3.1): its divisors become the rope scaling', () => {
    const divisors = Array.from({ length: 8 }, (_, j) => 1 + j);
    const path = write(llama, { extra: [{ name: 'rope_freqs.weight', shape: [8], data: Float32Array.from(divisors), type: 'F32' }] });
    expect(loadGguf(path).config.ropeScaling).toEqual({ type: 'freqs', divisors });
  });

  it.each<[string, ModelConfig, Patch, RegExp]>([
    ['an unknown architecture', llama, { md: [['general.architecture', { type: 'string', value: 'gemma' }]] }, /general\.architecture "gemma" is not supported \(llama, qwen2, qwen3\)/],
    ['rope_freqs on qwen2', qwen2, { extra: [f32('rope_freqs.weight', 8)] }, /tensor "rope_freqs\.weight" is not part of a qwen2 model/],
    ['rope_freqs of the wrong length', llama, { extra: [f32('rope_freqs.weight', 5)] }, /"rope_freqs\.weight" has 5 values, the head dim 16 needs 8/],
    ['a zero rope divisor', llama, { extra: [f32('rope_freqs.weight', 8, 0)] }, /rope_freqs\.weight" holds a divisor that is not a positive finite number/],
    ['YaRN rope scaling', llama, { md: [['llama.rope.scaling.type', { type: 'string', value: 'yarn' }]] }, /llama\.rope\.scaling\.type "yarn" is not supported/],
    ['a q bias on llama', llama, { extra: [f32('blk.0.attn_q.bias', 64)] }, /tensor "blk\.0\.attn_q\.bias" is not part of a llama model with this config; it would be ignored/],
    ['q/k norms on qwen2', qwen2, { extra: [f32('blk.1.attn_k_norm.weight', 16)] }, /tensor "blk\.1\.attn_k_norm\.weight" is not part of a qwen2 model/],
    ['a qwen2 without its k bias', qwen2, { drop: ['blk.1.attn_k.bias'] }, /tensor "model\.layers\.1\.self_attn\.k_proj\.bias" is missing/],
    ['a tensor no architecture here has', llama, { extra: [f32('blk.0.ffn_gate_exps.weight', 4)] }, /tensor "blk\.0\.ffn_gate_exps\.weight" is not part of a model this loader supports/],
    ['a value length unlike the key length', llama, { md: [['llama.attention.value_length', { type: 'u32', value: 8 }]] }, /value_length 8 differs from key_length 16/],
  ])('refuses %s at load, naming it', (_what, config, patch, msg) => {
    const path = write(config, patch);
    expect(() => loadGguf(path)).toThrow(FormatError);
    expect(() => loadGguf(path)).toThrow(msg);
  });

  it("caps the context at a GGUF's sliding window", () => {
    const path = write(llama, { md: [['llama.attention.sliding_window', { type: 'u32', value: 32 }]] });
    expect(loadGguf(path).config.maxPositionEmbeddings).toBe(32);
  });
});
