import { z } from 'zod';
import { nonNegInt, num, posInt } from './blocks.ts';

/** deepscale's own blocks: the model (Hugging Face Llama names), the data and the training loop. */

export const model = z
  .object({
    /** Default: the tokenizer's vocabulary size. */
    vocab_size: posInt.optional(),
    hidden_size: posInt,
    /** Default: Llama's 8/3 · hidden_size rounded up (models/config.ts). */
    intermediate_size: posInt.optional(),
    num_hidden_layers: posInt,
    num_attention_heads: posInt,
    /** Default: num_attention_heads (no grouped-query attention). */
    num_key_value_heads: posInt.optional(),
    head_dim: posInt.optional(),
    max_position_embeddings: posInt.default(2048),
    rms_norm_eps: num.positive().default(1e-5),
    rope_theta: num.positive().default(10000),
    /** 'half': rotate halves (HF Llama); 'adjacent': rotate pairs (Meta's original, GGUF). */
    rope_style: z.enum(['half', 'adjacent']).default('half'),
    tie_word_embeddings: z.boolean().default(false),
    init_std: num.positive().default(0.02),
  })
  .strict();

export const data = z
  .object({
    /** 'addition' / 'reversal': built-in synthetic tasks; 'arrow': shards written by `ds data prepare` at `path`. */
    task: z.enum(['addition', 'reversal', 'arrow']).default('addition'),
    digits: posInt.default(2),
    min_length: posInt.optional(),
    max_length: posInt.optional(),
    path: z.string().optional(),
    seq_len: posInt.optional(),
  })
  .strict();

export const train = z
  .object({
    /** Optimizer steps to run; or `epochs` over an Arrow dataset (not both). */
    steps: posInt.optional(),
    epochs: posInt.optional(),
    eval_every: nonNegInt.default(0),
    eval_samples: posInt.default(500),
    out_dir: z.string().default('runs/tiny'),
    checkpoint: z.object({ dir: z.string().optional(), save_every: nonNegInt.default(0), keep_last: posInt.optional() }).strict().prefault({}),
    log: z.object({ dir: z.string().optional() }).strict().prefault({}),
  })
  .strict();
