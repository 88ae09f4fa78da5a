import { FormatError } from '../../../errors.ts';
import type { HostTensor, LoadedModel } from '../types.ts';
import { checkLlamaWeights } from '../check_weights.ts';
import { ggufToModelConfig } from './hparams.ts';
import { ggufToHfName } from './names.ts';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseGguf, readTensorData } from './reader.ts';
import { tokenizerFromGguf } from './tokenizer.ts';

/**
 * A llama GGUF → LoadedModel. Weights keep GGUF's q/k row order and the config says
 * ropeStyle 'adjacent', which is how llama.cpp computes these files.
 */
export function loadGguf(path: string): LoadedModel {
  return loadGgufBytes(readFileSync(path), path);
}

/** loadGguf on a file already in memory; `path` names it in errors. */
export function loadGgufBytes(bytes: Uint8Array, path: string): LoadedModel {
  const steps = loadSteps(bytes, path);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * loadGguf without holding the event loop: the file is read asynchronously and the tensors are
 * decoded one per macrotask, so a server loading its model still answers /health (503) meanwhile.
 */
export async function loadGgufAsync(path: string): Promise<LoadedModel> {
  const steps = loadSteps(await readFile(path), path);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The load, one step per tensor decoded. */
function* loadSteps(bytes: Uint8Array, path: string): Generator<void, LoadedModel> {
  const g = parseGguf(bytes, path);
  const weights = new Map<string, HostTensor>();
  for (const info of g.tensors) {
    const hf = ggufToHfName(info.name);
    if (hf === null) throw new FormatError(path, `tensor "${info.name}" is not part of a llama model this loader supports`);
    weights.set(hf, { shape: info.shape, data: readTensorData(g, info) });
    yield;
  }
  const embed = weights.get('model.embed_tokens.weight');
  if (!embed) throw new FormatError(path, 'tensor "token_embd.weight" is missing');
  const base = ggufToModelConfig(g.metadata, path, embed.shape[0] ?? 0);
  const config = Object.freeze({ ...base, tieWordEmbeddings: !weights.has('lm_head.weight') });
  checkLlamaWeights(config, weights, path);
  return { config, weights, tokenizer: tokenizerFromGguf(g.metadata, path), source: `gguf:${path}` };
}
