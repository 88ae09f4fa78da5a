import type { ModelConfig } from '../../models/types.ts';

/**
 * Parameters that take part in a matmul per token: attention and MLP projections and the LM head.
 * The embedding lookup is a gather (no FLOPs); norms are elementwise.
 */
export function matmulParams(c: ModelConfig): number {
  const attn = c.hiddenSize * c.numHeads * c.headDim * 2 + c.hiddenSize * c.numKvHeads * c.headDim * 2; // q, o + k, v
  const mlp = 3 * c.hiddenSize * c.intermediateSize;
  return c.numLayers * (attn + mlp) + c.vocabSize * c.hiddenSize;
}

/**
 * Model FLOPs of training on one token with context T (PaLM's accounting, appendix B):
 * 6·N for the matmuls forward and backward, plus 12·L·H·Dh·T for attention's QKᵀ and PV.
 * Recomputation (activation checkpointing) is not counted: this is model FLOPs, not hardware FLOPs.
 */
export function trainFlopsPerToken(c: ModelConfig, T: number): number {
  return 6 * matmulParams(c) + 12 * c.numLayers * c.numHeads * c.headDim * T;
}
