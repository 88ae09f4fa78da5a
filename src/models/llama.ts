import { ConfigError } from '../errors.ts';
import { isPlainLlama, type Layer, type Model, type ModelConfig } from './types.ts';
import { embeddingLayer } from './layers/embedding.ts';
import { attentionLayer } from './layers/attention.ts';
import { mlpLayer } from './layers/mlp.ts';
import { lmHeadLayer } from './layers/lm_head.ts';
import { validateModelConfig } from './config.ts';

/**
 * A Llama-family decoder as a list of layers:
 *   embed_tokens, [attn_0, mlp_0, …, attn_{L-1}, mlp_{L-1}], lm_head (norm + head)
 * Each decoder block is two layers because tensor parallelism all-reduces after each half
 * (Megatron's g operator), so the list is cut where the communication goes.
 */
export function buildLlama(config: ModelConfig): Model {
  validateModelConfig(config);
  // The training decoder is plain Llama; a served architecture's extras would be dropped here.
  if (!isPlainLlama(config)) throw new ConfigError('model', 'q/k/v biases, q/k norms and rope scaling are served (ds serve) but not trained; buildLlama takes a plain Llama config');
  const layers: Layer[] = [embeddingLayer(config)];
  for (let i = 0; i < config.numLayers; i++) layers.push(attentionLayer(config, i), mlpLayer(config, i));
  layers.push(lmHeadLayer(config));
  return { config, layers };
}
