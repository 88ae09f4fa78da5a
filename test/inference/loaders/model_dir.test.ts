/** The loaders' shared contract: every format of one model gives the same logits. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError, InputError } from '../../../src/errors.ts';
import { ByteLevelBpeTokenizer } from '../../../src/data/tokenizer/bpe.ts';
import { GPT2_PATTERN } from '../../../src/data/tokenizer/pretokenize.ts';
import { bpeToTokenizerJson } from '../../../src/data/tokenizer/tokenizer-json.ts';
import { loadModel, modelConfigToHfConfig, hfConfigToModelConfig, writeLlamaGguf, writeSafetensors } from '../../../src/inference/loaders/index.ts';
import { gpt2TokenizerKv } from '../../../src/inference/loaders/gguf/tokenizer_kv.ts';
import { randomWeights, tinyBpeVocab, tinyConfig } from '../../helpers/random_llama.ts';
import { referenceForward } from '../../helpers/reference_llama.ts';
import type { ModelConfig } from '../../../src/models/types.ts';
import { phi3 } from '../../../src/inference/loaders/arch/index.ts';
import { LLMEngine } from '../../../src/inference/engine/llm_engine.ts';
import { fuseSplit } from '../../../src/inference/loaders/fused.ts';
import type { HostTensor } from '../../../src/inference/loaders/types.ts';

const root = mkdtempSync(join(tmpdir(), 'ds-dir-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const config = tinyConfig({ rmsNormEps: Math.fround(1e-5), ropeTheta: 500000 });
const weights = randomWeights(config, 4);
const v = tinyBpeVocab(config.vocabSize);

function writeDir(name: string, c: ModelConfig = config, w: Map<string, HostTensor> = weights): string {
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(modelConfigToHfConfig(c)));
  writeSafetensors(join(dir, 'model.safetensors'), w, { format: 'pt' });
  const tok = new ByteLevelBpeTokenizer({
    vocab: new Map(v.tokens.map((t, i) => [t, i])), merges: v.merges,
    added: [{ id: 256, content: '<|bos|>', special: true }, { id: 257, content: '<|eos|>', special: true }],
    splitPatterns: [GPT2_PATTERN], addPrefixSpace: false, normalizers: [], ignoreMerges: false, unkToken: null,
    special: { bos: 256, eos: 257, pad: null }, chatTemplate: null, rawPreTokenizer: null, rawNormalizer: null,
  });
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(bpeToTokenizerJson(tok.parts)));
  return dir;
}

describe('loadModel', () => {
  const ids = [256, 104, 101, 108, 108, 111, 32, 119];

  it('a model dir and the GGUF exported from it give the same logits and tokens', () => {
    const dir = writeDir('m');
    const fromDir = loadModel(dir);
    expect(fromDir.config).toEqual(config);
    expect(fromDir.source).toBe(`dir:${dir}`);
    expect(loadModel(join(dir, 'model.safetensors')).config).toEqual(config);
    const gguf = join(root, 'm.gguf');
    writeLlamaGguf(gguf, { config, weights: fromDir.weights, tokenizer: gpt2TokenizerKv(v.tokens, v.types, v.merges, { bos: 256, eos: 257 }), type: 'F32' });
    const fromGguf = loadModel(gguf);
    expect(fromGguf.config.ropeStyle).toBe('adjacent');
    const a = referenceForward(fromDir, ids);
    const b = referenceForward(fromGguf, ids);
    a.forEach((row, t) => row.forEach((x, j) => expect(Math.abs(x - b[t]![j]!)).toBeLessThan(1e-9)));
    for (const text of ['hello world', 'héllo, wor ld']) expect(fromGguf.tokenizer.encode(text)).toEqual(fromDir.tokenizer.encode(text));
  });

  it("every eos id of config.json's and generation_config.json's lists ends a generation; a bad one is named", () => {
    const dir = writeDir('eos-lists');
    const V = config.vocabSize;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...modelConfigToHfConfig(config), eos_token_id: [257, V - 1] }));
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [257, V - 2], do_sample: true }));
    const m = loadModel(dir);
    expect(m.config.eosTokenId).toBe(257);
    expect([...m.eosTokenIds!].sort((a, b) => a - b)).toEqual([257, V - 2, V - 1]);
    const engine = new LLMEngine(m, { kvCacheMemory: '1MiB' });
    expect(engine.endTokenIds).toEqual(expect.arrayContaining([257, V - 2, V - 1]));
    engine.dispose();
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [257, V] }));
    expect(() => loadModel(dir)).toThrow(new RegExp(`generation_config\\.json: eos_token_id\\[1\\] is ${V}, expected a token id below the vocabulary size ${V}`));
  });

  it('config.json round-trips through ModelConfig', () => {
    expect(hfConfigToModelConfig(modelConfigToHfConfig(config), 'c')).toEqual(config);
  });

  it.each([
    ['Qwen2 (q/k/v biases)', { attentionBias: true }, 'qwen2'],
    ['Qwen3 (q/k norms)', { qkNorm: true, headDim: 32 }, 'qwen3'],
    ['Llama 3.1 (rope scaling)', { ropeScaling: { type: 'llama3' as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8 } }, 'llama'],
  ])('%s: config.json round-trips, and the dir and its GGUF give the same logits', (name, over, arch) => {
    const c = { ...config, ...over };
    const w = randomWeights(c, 5);
    const dir = writeDir(name.split(' ')[0]!, c, w);
    const fromDir = loadModel(dir);
    expect(fromDir.config).toEqual(c);
    const gguf = join(root, `${arch}.gguf`);
    writeLlamaGguf(gguf, { config: c, weights: fromDir.weights, tokenizer: gpt2TokenizerKv(v.tokens, v.types, v.merges, { bos: 256, eos: 257 }), type: 'F32' });
    const fromGguf = loadModel(gguf);
    expect(fromGguf.source).toBe(`gguf:${gguf}`);
    const a = referenceForward(fromDir, ids);
    const b = referenceForward(fromGguf, ids);
    a.forEach((row, t) => row.forEach((x, j) => expect(Math.abs(x - b[t]![j]!)).toBeLessThan(1e-5)));
  });

  it('Phi-3: fused qkv_proj / gate_up_proj are split at load; its GGUF (fused again) gives the same logits', () => {
    const w = randomWeights(config, 6);
    const dir = join(root, 'phi3');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...modelConfigToHfConfig(config, phi3), sliding_window: 4096 }));
    writeSafetensors(join(dir, 'model.safetensors'), fuseSplit(w, config, phi3.fused!.hf), { format: 'pt' });
    writeFileSync(join(dir, 'tokenizer.json'), readFileSync(join(writeDir('phi3-tok'), 'tokenizer.json')));
    const fromDir = loadModel(dir);
    expect(fromDir.config).toEqual(config);
    for (const [name, t] of w) expect(Array.from(fromDir.weights.get(name)!.data), name).toEqual(Array.from(t.data));
    const gguf = join(root, 'phi3.gguf');
    writeLlamaGguf(gguf, { config, weights: fromDir.weights, tokenizer: gpt2TokenizerKv(v.tokens, v.types, v.merges, { bos: 256, eos: 257 }), type: 'F32', arch: phi3 });
    const a = referenceForward(fromDir, ids);
    const b = referenceForward(loadModel(gguf), ids);
    a.forEach((row, t) => row.forEach((x, j) => expect(Math.abs(x - b[t]![j]!)).toBeLessThan(1e-9)));
  });

  it("caps the context at Mistral's sliding window (full attention inside it is the same)", () => {
    const hf = { ...modelConfigToHfConfig(config), architectures: ['MistralForCausalLM'], sliding_window: 32 };
    expect(hfConfigToModelConfig(hf, 'c').maxPositionEmbeddings).toBe(32);
    expect(hfConfigToModelConfig({ ...hf, sliding_window: null }, 'c').maxPositionEmbeddings).toBe(config.maxPositionEmbeddings);
  });

  it.each([
    [{ architectures: ['GPT2LMHeadModel'] }, /config\.json: architectures \["GPT2LMHeadModel"\] is not supported/],
    [{ rope_scaling: { rope_type: 'yarn', factor: 4 } }, /rope_scaling\.rope_type "yarn" is not supported \(linear, llama3\)/],
    [{ rope_scaling: { rope_type: 'llama3', factor: 8 } }, /rope_scaling\.low_freq_factor is undefined/],
    [{ attention_bias: true }, /attention_bias: true is not supported/],
    [{ architectures: ['Qwen2ForCausalLM'], use_sliding_window: true, sliding_window: 32, max_window_layers: 1 }, /a window on some layers only/],
    [{ hidden_act: 'gelu' }, /hidden_act "gelu" is not supported/],
    [{ num_key_value_heads: 3 }, /num_attention_heads 4 is not a multiple of num_key_value_heads 3/],
    [{ hidden_size: -1 }, /hidden_size is -1/],
  ])('rejects config %j with a FormatError naming the file and field', (patch, msg) => {
    const run = (): unknown => hfConfigToModelConfig({ ...modelConfigToHfConfig(config), ...patch }, 'x/config.json');
    expect(run).toThrow(FormatError);
    expect(run).toThrow(msg);
  });

  it('names a weight with the wrong shape, and paths it cannot read', () => {
    const dir = writeDir('bad');
    const w = new Map(weights);
    w.set('model.norm.weight', { shape: [3], data: new Float32Array(3) });
    writeSafetensors(join(dir, 'model.safetensors'), w);
    expect(() => loadModel(dir)).toThrow(/tensor "model.norm.weight" has shape \[3\], the config needs \[64\]/);
    expect(() => loadModel(join(root, 'nope'))).toThrow(InputError);
    writeFileSync(join(root, 'x.bin'), 'x');
    expect(() => loadModel(join(root, 'x.bin'))).toThrow(/cannot tell the format/);
  });
});
