import { FormatError } from '../../../errors.ts';
import type { HostTensor, LoadedModel } from '../types.ts';
import { checkLlamaWeights, expectedLlamaShapes } from '../check_weights.ts';
import { ggufToModelConfig } from './hparams.ts';
import { ggufToHfName, hfToGgufName } from './names.ts';
import { splitFused } from '../fused.ts';
import { openGguf } from './open.ts';
import { parseGguf, readTensorData, type GgufFile } from './reader.ts';
import { hostTensorOf } from './stored.ts';
import { tokenizerFromGguf } from './tokenizer.ts';

/**
 * A GGUF (llama, qwen2, qwen3: arch/) → LoadedModel. Weights keep GGUF's q/k row order and the
 * config's ropeStyle is how llama.cpp rotates that architecture ('adjacent' for llama).
 * A tensor the architecture does not use is refused by name, never dropped.
 */
export function loadGguf(path: string): LoadedModel {
  return run(loadSteps(openGguf(path), path));
}

/** loadGguf on a file already in memory; `path` names it in errors. */
export function loadGgufBytes(bytes: Uint8Array, path: string): LoadedModel {
  return run(loadSteps(parseGguf(bytes, path), path));
}

function run(steps: Generator<void, LoadedModel>): LoadedModel {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * loadGguf without holding the event loop: the tensors are checked one per macrotask, so a
 * server loading its model still answers /health (503) meanwhile.
 */
export async function loadGgufAsync(path: string): Promise<LoadedModel> {
  const steps = loadSteps(openGguf(path), path);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The load, one step per tensor checked (tensor data stays in the file: stored.ts). */
function* loadSteps(g: GgufFile, path: string): Generator<void, LoadedModel> {
  const weights = new Map<string, HostTensor>();
  let ropeFreqs: Float32Array | null = null; // Llama 3.1's rope divisors [Dh/2]: config, not a weight
  for (const info of g.tensors) {
    if (info.name === ROPE_FREQS) {
      ropeFreqs = readTensorData(g, info);
      continue;
    }
    const hf = ggufToHfName(info.name);
    if (hf === null) throw new FormatError(path, `tensor "${info.name}" is not part of a model this loader supports`);
    weights.set(hf, hostTensorOf(g, info));
    yield;
  }
  const embed = weights.get('model.embed_tokens.weight');
  if (!embed) throw new FormatError(path, 'tensor "token_embd.weight" is missing');
  const { config: base, arch } = ggufToModelConfig(g.metadata, path, embed.shape[0] ?? 0, ropeFreqs);
  const config = Object.freeze({ ...base, tieWordEmbeddings: !weights.has('lm_head.weight') });
  if (arch.fused) splitFused(weights, config, arch.fused.gguf, path, (hf) => hfToGgufName(hf) ?? hf);
  const expected = expectedLlamaShapes(config);
  for (const hf of weights.keys()) {
    if (!expected.has(hf)) throw new FormatError(path, `tensor "${hfToGgufName(hf) ?? hf}" is not part of a ${arch.name} model with this config; it would be ignored`);
  }
  checkLlamaWeights(config, weights, path);
  const tokenizer = tokenizerFromGguf(g.metadata, path);
  // Every id the model can sample must be a token, and every token an embedding row (llama.cpp: n_vocab is the token count).
  const n = (g.metadata.get('tokenizer.ggml.tokens') as readonly string[]).length; // an array: tokenizerFromGguf checked it
  if (n !== config.vocabSize) {
    throw new FormatError(path, `tokenizer.ggml.tokens has ${n} tokens but the model's vocabulary (${arch.name}.vocab_size, token_embd.weight rows) is ${config.vocabSize}: ${n < config.vocabSize ? `ids ${n}..${config.vocabSize - 1} would decode to no text` : `tokens ${config.vocabSize}..${n - 1} have no embedding`}`);
  }
  return { config, weights, tokenizer, source: `gguf:${path}` };
}

const ROPE_FREQS = 'rope_freqs.weight';
