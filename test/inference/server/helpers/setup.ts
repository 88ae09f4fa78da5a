/** A listening ApiServer over the toy engine, and an openai client pointed at it. */
import OpenAI from 'openai';
import { ByteLevelBpeTokenizer } from '../../../../src/data/tokenizer/bpe.ts';
import { GPT2_PATTERN } from '../../../../src/data/tokenizer/pretokenize.ts';
import { ApiServer, type ApiServerOptions } from '../../../../src/inference/server/app.ts';
import { tinyBpeVocab } from '../../../helpers/random_llama.ts';
import { ToyEngine, toyLogits, type ToyEngineOptions } from './toy_engine.ts';

export const MODEL = 'toy';

export function tinyTokenizer(chatTemplate: string | null = null): ByteLevelBpeTokenizer {
  const v = tinyBpeVocab(300);
  return new ByteLevelBpeTokenizer({
    vocab: new Map(v.tokens.map((t, i) => [t, i])), merges: v.merges,
    added: [{ id: 256, content: '<|bos|>', special: true }, { id: 257, content: '<|eos|>', special: true }],
    splitPatterns: [GPT2_PATTERN], addPrefixSpace: false, normalizers: [], ignoreMerges: false, unkToken: null,
    special: { bos: 256, eos: 257, pad: null }, chatTemplate, rawPreTokenizer: null, rawNormalizer: null,
  });
}

export interface Running {
  readonly app: ApiServer;
  readonly engine: ToyEngine;
  readonly url: string;
  readonly client: OpenAI;
}

export async function startToyServer(engineOpts: Partial<ToyEngineOptions> = {}, serverOpts: Partial<ApiServerOptions> = {}): Promise<Running> {
  const engine = new ToyEngine({ tokenizer: tinyTokenizer(), ...engineOpts });
  const app = new ApiServer({ engine, modelName: MODEL, ...serverOpts });
  const { port } = await app.listen(0);
  const url = `http://127.0.0.1:${port}`;
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: serverOpts.apiKey ?? 'none', maxRetries: 0 });
  return { app, engine, url, client };
}

/** Greedy reference: argmax of the toy logits (lowest id on ties), stopping at eos. */
export function greedyReference(prompt: readonly number[], maxTokens: number, eos: number | null): number[] {
  const out: number[] = [];
  let last = prompt[prompt.length - 1]!;
  for (let pos = prompt.length - 1; out.length < maxTokens; pos++) {
    const row = toyLogits(last, pos, 300);
    let best = 0;
    for (let v = 1; v < row.length; v++) if (row[v]! > row[best]!) best = v;
    out.push(best);
    if (best === eos) break;
    last = best;
  }
  return out;
}

/** log softmax of the toy logits at one step, in float64. */
export function referenceLogprob(last: number, pos: number, token: number): number {
  const row = toyLogits(last, pos, 300);
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
  return row[token]! - lse;
}
