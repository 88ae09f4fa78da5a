/**
 * One architecture = one file: how its GGUF metadata (`{arch}.*`) and HF config.json map onto
 * ModelConfig beyond the Llama base every file here shares (sizes, heads, eps, θ), which
 * gguf/hparams.ts and hf_config.ts read. The registry (index.ts) picks the file by name.
 */
import type { ModelConfig } from '../../../models/types.ts';
import type { GgufKv } from '../gguf/writer.ts';

/** Typed reads of `{arch}.{key}` metadata; each throws a FormatError naming the key and the file. */
export interface GgufFields {
  readonly file: string;
  /** The full metadata key, `{arch}.{key}` (for messages). */
  key(key: string): string;
  has(key: string): boolean;
  num(key: string, fallback?: number): number;
  posInt(key: string, fallback?: number): number;
  str(key: string, fallback?: string): string;
}

/** Typed reads of config.json fields; each throws a FormatError naming the key and the file. */
export interface HfFields {
  readonly file: string;
  raw(key: string): unknown;
  posInt(key: string, fallback?: number): number;
  real(key: string, fallback: number): number;
}

export interface FusedNames {
  readonly qkv: string;
  readonly gateUp: string;
}

/** What an architecture adds to the shared base: extras, a context cap, a rope style. */
export type ArchConfig = Partial<Pick<ModelConfig, 'attentionBias' | 'qkNorm' | 'ropeScaling' | 'maxPositionEmbeddings'>>;

export interface Architecture {
  /** general.architecture in GGUF. */
  readonly name: string;
  /** config.json `architectures[0]` values this file reads. */
  readonly hfArchitectures: readonly string[];
  /**
   * How llama.cpp rotates this architecture (LLAMA_ROPE_TYPE_NORM: adjacent pairs; NEOX: rotate-half).
   * A GGUF of an 'adjacent' architecture stores q/k rows permuted (gguf/permute.ts).
   */
  readonly ggufRopeStyle: 'adjacent' | 'half';
  /**
   * Fused projections (fused.ts): the layer-relative names of the one q/k/v weight and the one
   * gate/up weight, in GGUF (as names.ts maps them) and in HF; null when q, k, v, gate, up are apart.
   */
  readonly fused: { readonly gguf: FusedNames; readonly hf: FusedNames } | null;
  /** Whether a GGUF of it may carry `rope_freqs.weight` (Llama 3.1 rope divisors). */
  readonly ropeFreqsTensor: boolean;
  /** Extras from `{arch}.*` keys; `base` is what the shared reader found. Refuses keys it cannot honour. */
  fromGguf(f: GgufFields, base: ModelConfig): ArchConfig;
  /** Extras from config.json. Refuses fields it cannot honour. */
  fromHf(f: HfFields, base: ModelConfig): ArchConfig;
  /** Refuses a config this architecture cannot express (e.g. qk-norm on llama). */
  check(config: ModelConfig): string | null;
  /** The `{arch}.*` keys for `config` beyond the shared ones. */
  toGguf(config: ModelConfig): Map<string, GgufKv>;
  /** The config.json fields for `config` beyond the shared ones. */
  toHf(config: ModelConfig): Record<string, unknown>;
}
