import { ConfigError } from '../../errors.ts';

export type BatchingMode = 'continuous' | 'static';

/** What a user sets on the engine (CLI flags, server options, `new LLM({...})`). */
export interface EngineConfigInput {
  /** Bytes for the KV cache, a number or a string like '512MiB', '2GiB' (default 256MiB). */
  readonly kvCacheMemory?: number | string;
  readonly maxNumSeqs?: number;
  readonly maxNumBatchedTokens?: number;
  /** Tokens per KV block (default 16). */
  readonly blockSize?: number;
  /** Longest prompt + output; defaults to the model's context. */
  readonly maxModelLen?: number;
  /** Host memory for swapped-out blocks (default 0: preemption recomputes). */
  readonly swapSpace?: number | string;
  readonly enablePrefixCaching?: boolean;
  /** Seed of the generators of unseeded requests (default 0). */
  readonly seed?: number;
  /**
   * 'continuous' (default): requests join the running batch at the next step.
   * 'static': the baseline continuous batching is measured against. A batch of up to maxNumSeqs
   * is formed only when the previous one is done entirely, and it is computed padded, as a dense
   * batch of [batch, longest] would be: each step runs every member of the batch (finished ones
   * and shorter prompts as padding rows) to the longest member's token count. Padding rows go
   * through the embeddings, norms and every matmul; they skip attention (no KV slot). The prompt
   * padding is spread over the prefill chunks in proportion to their real tokens, which is exact
   * for the benchmark's use (prefix caching off, no preemption, n = 1) and approximate otherwise.
   */
  readonly batching?: BatchingMode;
  /**
   * Threads the model runner splits each batch over, by sequence (default 1). Each extra thread
   * has its own activations; the weights and the KV cache are shared.
   */
  readonly threads?: number;
}

export interface EngineConfig {
  readonly kvCacheMemory: number;
  readonly maxNumSeqs: number;
  readonly maxNumBatchedTokens: number | undefined;
  readonly blockSize: number;
  readonly maxModelLen: number;
  readonly swapSpace: number;
  readonly enablePrefixCaching: boolean;
  readonly seed: number;
  readonly batching: BatchingMode;
  readonly threads: number;
}

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 };

/** '2GiB' → 2147483648; numbers pass through. `path` names the option in errors. */
export function parseMemory(v: number | string, path: string): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) throw new ConfigError(path, `must be a non-negative number of bytes, got ${v}`);
    return v;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new ConfigError(path, `cannot read ${JSON.stringify(v)} as a size (e.g. 512MiB, 2GiB, 1e9)`);
  return Math.floor(Number(m[1]) * unit);
}

function posInt(v: number | undefined, path: string, dflt: number): number {
  const x = v ?? dflt;
  if (!Number.isInteger(x) || x < 1) throw new ConfigError(path, `must be a positive integer, got ${x}`);
  return x;
}

export function resolveEngineConfig(input: EngineConfigInput, modelContext: number): EngineConfig {
  const maxModelLen = posInt(input.maxModelLen, 'maxModelLen', modelContext);
  if (maxModelLen > modelContext) throw new ConfigError('maxModelLen', `${maxModelLen} exceeds the model's context of ${modelContext} tokens`);
  const batching = input.batching ?? 'continuous';
  if (batching !== 'continuous' && batching !== 'static') throw new ConfigError('batching', `must be 'continuous' or 'static', got ${JSON.stringify(batching)}`);
  return Object.freeze({
    kvCacheMemory: parseMemory(input.kvCacheMemory ?? '256MiB', 'kvCacheMemory'),
    maxNumSeqs: posInt(input.maxNumSeqs, 'maxNumSeqs', 256),
    maxNumBatchedTokens: input.maxNumBatchedTokens === undefined ? undefined : posInt(input.maxNumBatchedTokens, 'maxNumBatchedTokens', 1),
    blockSize: posInt(input.blockSize, 'blockSize', 16),
    maxModelLen,
    swapSpace: parseMemory(input.swapSpace ?? 0, 'swapSpace'),
    enablePrefixCaching: input.enablePrefixCaching ?? true,
    seed: input.seed ?? 0,
    batching,
    threads: posInt(input.threads, 'threads', 1),
  });
}
