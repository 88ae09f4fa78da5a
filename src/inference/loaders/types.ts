import type { ModelConfig } from '../../models/types.ts';
import type { Tokenizer } from '../../data/tokenizer/types.ts';
import type { GgmlTypeId } from './gguf/constants.ts';

/** One tensor in host memory, row-major, shape as HF lists it (linear weights [out, in]). */
export interface HostTensor {
  readonly shape: number[];
  /** The values as float32 (for a `stored` tensor: dequantized when first read). */
  readonly data: Float32Array;
  /**
   * Set when the tensor is kept in its stored format (a GGUF's F32, F16, BF16, Q8_0, Q4_0, k-quants):
   * the model runner streams these bytes into its memory (its kernels read F16 … k-quant rows as
   * they are) instead of a float32 copy.
   */
  readonly stored?: StoredTensor;
}

/** A tensor's stored bytes: its rows (HF order, the last dim fastest) as ggml blocks of `type`. */
export interface StoredTensor {
  readonly type: GgmlTypeId;
  readonly byteLength: number;
  /** The bytes; for a model loaded from a file, read from it on each access (the loader keeps no copy). */
  readonly bytes: Uint8Array;
  /** Copies the bytes into dst[0, byteLength) (from a file: read straight into it). */
  copyTo(dst: Uint8Array): void;
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
  /**
   * Every id that ends a generation by the model's own files, beyond config.eosTokenId: HF's
   * eos_token_id lists (config.json, generation_config.json, as transformers' generate() stops
   * on any of them). Absent: none besides eos.
   */
  readonly eosTokenIds?: readonly number[];
}
