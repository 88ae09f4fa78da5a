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
import { phi3 } from '../../../src/inference/loaders/arch/index.ts';
import { fuseSplit, rowSlice } from '../../../src/inference/loaders/fused.ts';
import { writeLlamaGguf } from '../../../src/inference/loaders/gguf/export.ts';
import { ModelRunner } from '../../../src/inference/runner/index.ts';
import { randomWeights, tinyBpeVocab, tinyConfig } from '../../helpers/random_llama.ts';
import { referenceForward } from '../../helpers/reference_llama.ts';

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
    ['an unknown architecture', llama, { md: [['general.architecture', { type: 'string', value: 'gemma' }]] }, /general\.architecture "gemma" is not supported \(llama, qwen2, qwen3, phi3\)/],
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

describe('phi3: fused q/k/v and gate/up', () => {
  it.each(['F16', 'Q8_0'] as const)('split at load as views of the stored %s rows; the runner gives the reference logits', (type) => {
    const config = tinyConfig();
    const v = tinyBpeVocab(config.vocabSize);
    const path = join(dir, `phi3-${type}.gguf`);
    writeLlamaGguf(path, { config, weights: randomWeights(config, 9), tokenizer: gpt2TokenizerKv(v.tokens, v.types, v.merges, { bos: 256, eos: 257 }), type, arch: phi3 });
    const m = loadGguf(path);
    expect(m.config.ropeStyle).toBe('half');
    for (const name of ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'mlp.gate_proj', 'mlp.up_proj']) {
      expect(m.weights.get(`model.layers.1.${name}.weight`)?.stored, name).toBeDefined();
    }
    const prompt = [256, 104, 101, 108, 108, 111];
    const want = referenceForward(m, prompt).at(-1)!;
    const runner = new ModelRunner(m, { numBlocks: 4, blockSize: 16 });
    const got = runner.execute({
      tokenIds: Int32Array.from(prompt), positions: Int32Array.from(prompt, (_, i) => i), slotMapping: Int32Array.from(prompt, (_, i) => i),
      seqs: [{ queryStart: 0, queryLen: prompt.length, contextLen: prompt.length, blockTable: Int32Array.from([0]) }],
      sampleRows: Int32Array.from([prompt.length - 1]),
    });
    runner.dispose();
    const spread = Math.max(...want) - Math.min(...want);
    const worst = Math.max(...want.map((w, i) => Math.abs(w - got[i]!)));
    // F16 rows are exact products; Q8_0 products round the activations to 8 bits as llama.cpp does
    expect(worst / spread).toBeLessThan(type === 'F16' ? 1e-5 : 0.015);
  });

  it('refuses a fused q/k/v with the wrong rows, naming the tensor', () => {
    const config = tinyConfig();
    const v = tinyBpeVocab(config.vocabSize);
    const md = modelConfigToGguf(config, 'x', phi3);
    for (const [k, val] of gpt2TokenizerKv(v.tokens, v.types, v.merges, { bos: 256, eos: 257 })) md.set(k, val);
    const fused = fuseSplit(randomWeights(config), config, phi3.fused!.gguf);
    const tensors = [...fused].map(([hf, t]) => {
      const short = hf === 'model.layers.1.self_attn.qkv_proj.weight' ? rowSlice(t, 0, t.shape[0]! - 16) : t;
      return { name: hfToGgufName(hf)!, shape: short.shape, data: Float32Array.from(short.data), type: 'F32' as const };
    });
    const path = join(dir, 'phi3-short-qkv.gguf');
    writeGguf(path, md, tensors);
    expect(() => loadGguf(path)).toThrow(FormatError);
    expect(() => loadGguf(path)).toThrow(/tensor "blk\.1\.attn_qkv\.weight" has shape \[112, 64\], the config needs \[128, 64\]/);
  });
});
