import type { ModelConfig } from '../../models/types.ts';
import type { Tokenizer } from '../../data/tokenizer/types.ts';

/** One tensor in host memory, row-major, shape as HF lists it (linear weights [out, in]). */
export interface HostTensor {
  readonly shape: number[];
  readonly data: Float32Array;
}

/**
 * A model as every loader gives it. Weights are keyed by HF Llama names
 * (model.layers.N.self_attn.q_proj.weight …); `lm_head.weight` is absent when embeddings are tied.
 */
export interface LoadedModel {
  readonly config: ModelConfig;
  readonly weights: Map<string, HostTensor>;
  readonly tokenizer: Tokenizer;
  /** What it was read from (path and format), for logs and /v1/models. */
  readonly source: string;
}
