import type * as tf from '@tensorflow/tfjs-core';

/**
 * Hyperparameters of a Llama-family decoder. Field names are camelCase here; `config.json`
 * (HF) and GGUF keys are mapped to and from these in src/inference/loaders/hf_config.ts and the GGUF loader.
 */
export interface ModelConfig {
  readonly vocabSize: number;
  readonly hiddenSize: number; // d_model
  readonly intermediateSize: number; // SwiGLU hidden width
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number; // divides numHeads (grouped-query attention)
  readonly headDim: number; // usually hiddenSize / numHeads
  readonly maxPositionEmbeddings: number; // context length
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  /**
   * 'half': rotate-half, as HF Llama (pairs (i, i + d/2)).
   * 'adjacent': adjacent pairs (2i, 2i + 1), as llama.cpp computes for GGUF llama.
   */
  readonly ropeStyle: 'half' | 'adjacent';
  readonly tieWordEmbeddings: boolean;
  readonly initStd: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  /**
   * Architecture extras (Qwen2, Qwen3, Llama 3). Optional so that a plain Llama config stays as
   * it was; read them through modelExtras(), the one place that gives their defaults.
   */
  readonly attentionBias?: boolean; // q/k/v projections add a bias (Qwen2)
  readonly qkNorm?: boolean; // RMSNorm over each head of q and of k, before rope (Qwen3)
  readonly ropeScaling?: RopeScaling | null;
}

/**
 * How rope frequencies are stretched for long context. Pair j of a head turns at
 *   invFreq_j = θ^(−2j/Dh) / divisor_j / factor(linear)
 *   'linear': every divisor 1, positions scaled by 1/factor (llama.cpp's freq_scale);
 *   'llama3': divisors from Llama 3.1's rule (low frequencies by factor, high ones by 1, smooth between);
 *   'freqs':  the divisors given, one per pair (GGUF's rope_freqs tensor, [Dh/2]).
 */
export type RopeScaling =
  | { readonly type: 'linear'; readonly factor: number }
  | {
      readonly type: 'llama3';
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      readonly originalMaxPositionEmbeddings: number;
    }
  | { readonly type: 'freqs'; readonly divisors: readonly number[] };

/** The extras of `c` with their defaults: a plain Llama has none. */
export function modelExtras(c: Pick<ModelConfig, 'attentionBias' | 'qkNorm' | 'ropeScaling'>): { attentionBias: boolean; qkNorm: boolean; ropeScaling: RopeScaling | null } {
  return { attentionBias: c.attentionBias ?? false, qkNorm: c.qkNorm ?? false, ropeScaling: c.ropeScaling ?? null };
}

/** `base` with the extras that differ from their defaults (a plain Llama config keeps no extra keys). */
export function withExtras(base: ModelConfig, extras: Partial<ModelConfig>): ModelConfig {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(extras)) {
    if (v === undefined || ((k === 'attentionBias' || k === 'qkNorm') && v === false) || (k === 'ropeScaling' && v === null)) delete out[k];
    else out[k] = v;
  }
  return Object.freeze(out) as unknown as ModelConfig;
}

/** True when `c` uses none of the extras (what the training decoder and HF Llama export support). */
export function isPlainLlama(c: ModelConfig): boolean {
  const e = modelExtras(c);
  return !e.attentionBias && !e.qkNorm && e.ropeScaling === null;
}

export type ParamInit =
  | { readonly kind: 'normal'; readonly std: number }
  | { readonly kind: 'ones' }
  | { readonly kind: 'zeros' };

/**
 * One parameter a layer uses. `name` is the HF Llama name (model.layers.0.self_attn.q_proj.weight),
 * so export writes it as it is. Linear weights are stored as HF does, [out, in].
 * Two layers that list the same name share the parameter (tied embeddings): the engine keeps one
 * view and sums both layers' gradients into it.
 */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: ParamInit;
  /** Dimension tensor parallelism splits (0: rows/out-features, column-parallel; 1: in-features, row-parallel); null = replicated. */
  readonly tpDim: number | null;
  /**
   * The indivisible unit along tpDim: headDim for the attention projections (a head is never cut),
   * 1 (the default) where any row or column may go to any rank (vocabulary, MLP width).
   */
  readonly tpUnit?: number;
  /** In a tensor-parallel rank's model: the part of the full parameter this rank holds (src/parallel/tp_slice.ts). */
  readonly slice?: TpSlice;
}

/**
 * A tensor-parallel rank's part of a full parameter: [start, end) along `dim` of `fullShape`.
 * `sharedBy` lists the tp ranks holding this same part (just this rank for a split parameter;
 * every tp rank for a replicated one, such as a norm weight; a group when there are fewer kv
 * heads than ranks): their gradients are partial sums of the full one, and are summed.
 */
export interface TpSlice {
  readonly fullShape: readonly number[];
  readonly dim: number;
  readonly start: number;
  readonly end: number;
  readonly sharedBy: readonly number[];
}

export type ParamMap = Readonly<Record<string, tf.Tensor>>;

/** What a layer's forward may read besides its params and input. */
export interface ForwardCtx {
  readonly config: ModelConfig;
  /** Position of the input's first token (0 in training). */
  readonly positionOffset: number;
  readonly training: boolean;
}

/**
 * A layer of the model list. `forward` is pure: it reads only its params, its input and ctx,
 * creates no tf.Variable and keeps no tensor, so the engine can call it under tf.grads to get a
 * vector-Jacobian product, recompute it for activation checkpointing, or run a contiguous slice of
 * the list as a pipeline stage.
 */
export interface Layer {
  readonly name: string;
  readonly params: readonly ParamSpec[];
  /** Input kind: 'ids' (int32 [B, T]) for the embedding, 'hidden' (float32 [B, T, D]) otherwise. */
  readonly input: 'ids' | 'hidden';
  /**
   * true: forward returns a residual branch f(x) and the layer's output is x + f(x), added by the
   * executor (applyLayer). Under tensor parallelism f(x) is this rank's partial sum and is
   * all-reduced before the add (Megatron's g), which a traced forward cannot do itself.
   */
  readonly residual?: boolean;
  forward(params: ParamMap, x: tf.Tensor, ctx: ForwardCtx): tf.Tensor;
}

/** The model: its config and its layers, in order; the last one returns logits [B, T, V]. */
export interface Model {
  readonly config: ModelConfig;
  readonly layers: readonly Layer[];
}
