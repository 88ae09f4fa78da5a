import { ConfigError } from '../../errors.ts';

export type PreemptionMode = 'recompute' | 'swap';

export interface SchedulerConfig {
  /** Most sequences in the running batch. */
  readonly maxNumSeqs: number;
  /** Token budget of one step (decode tokens + prefill chunk tokens). */
  readonly maxNumBatchedTokens: number;
  /** Longest sequence (prompt + output) the model serves. */
  readonly maxModelLen: number;
  /** Split long prefills across steps to fit the token budget (default true). */
  readonly enableChunkedPrefill: boolean;
  /** What a sequence loses when blocks run out: recompute (default) or swap to host. */
  readonly preemptionMode: PreemptionMode;
}

export type SchedulerConfigInput = Partial<SchedulerConfig> & { readonly maxModelLen: number };

const DEFAULT_MAX_NUM_SEQS = 256;
const DEFAULT_CHUNKED_TOKEN_BUDGET = 2048;

/** Validate once, where the config enters; `path` prefixes the JSON path in errors. */
export function resolveSchedulerConfig(input: SchedulerConfigInput, path = 'scheduler'): SchedulerConfig {
  const at = (key: string) => (path ? `${path}.${key}` : key);
  const enableChunkedPrefill = input.enableChunkedPrefill ?? true;
  if (typeof enableChunkedPrefill !== 'boolean') throw new ConfigError(at('enableChunkedPrefill'), `must be a boolean, got ${String(enableChunkedPrefill)}`);
  const preemptionMode = input.preemptionMode ?? 'recompute';
  if (preemptionMode !== 'recompute' && preemptionMode !== 'swap') {
    throw new ConfigError(at('preemptionMode'), `must be 'recompute' or 'swap', got ${JSON.stringify(preemptionMode)}`);
  }
  const int = (key: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(at(key), `must be a positive integer, got ${v}`);
    return v;
  };
  const maxModelLen = int('maxModelLen', input.maxModelLen);
  const maxNumSeqs = int('maxNumSeqs', input.maxNumSeqs ?? DEFAULT_MAX_NUM_SEQS);
  const defaultBudget = enableChunkedPrefill ? DEFAULT_CHUNKED_TOKEN_BUDGET : Math.max(maxModelLen, DEFAULT_CHUNKED_TOKEN_BUDGET);
  const maxNumBatchedTokens = int('maxNumBatchedTokens', input.maxNumBatchedTokens ?? Math.max(defaultBudget, maxNumSeqs));
  if (maxNumBatchedTokens < maxNumSeqs) {
    throw new ConfigError(
      at('maxNumBatchedTokens'),
      `${maxNumBatchedTokens} is smaller than maxNumSeqs ${maxNumSeqs}: a full batch of decodes would not fit one step`,
    );
  }
  if (!enableChunkedPrefill && maxNumBatchedTokens < maxModelLen) {
    throw new ConfigError(
      at('maxNumBatchedTokens'),
      `${maxNumBatchedTokens} is smaller than maxModelLen ${maxModelLen} with chunked prefill off: a long prompt could never be scheduled`,
    );
  }
  return Object.freeze({ maxNumSeqs, maxNumBatchedTokens, maxModelLen, enableChunkedPrefill, preemptionMode });
}
