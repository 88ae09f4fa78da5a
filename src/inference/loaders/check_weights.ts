import { FormatError } from '../../errors.ts';
import { modelExtras, type ModelConfig } from '../../models/types.ts';
import type { HostTensor } from './types.ts';

/** HF name → expected shape for every weight a Llama-family decoder with `config` has (with its extras: q/k/v biases, q/k norms). */
export function expectedLlamaShapes(config: ModelConfig): Map<string, number[]> {
  const { vocabSize: V, hiddenSize: D, intermediateSize: F, numHeads: H, numKvHeads: KV, headDim: Dh } = config;
  const extras = modelExtras(config);
  const shapes = new Map<string, number[]>([['model.embed_tokens.weight', [V, D]], ['model.norm.weight', [D]]]);
  if (!config.tieWordEmbeddings) shapes.set('lm_head.weight', [V, D]);
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}.`;
    shapes.set(`${p}self_attn.q_proj.weight`, [H * Dh, D]);
    shapes.set(`${p}self_attn.k_proj.weight`, [KV * Dh, D]);
    shapes.set(`${p}self_attn.v_proj.weight`, [KV * Dh, D]);
    shapes.set(`${p}self_attn.o_proj.weight`, [D, H * Dh]);
    shapes.set(`${p}mlp.gate_proj.weight`, [F, D]);
    shapes.set(`${p}mlp.up_proj.weight`, [F, D]);
    shapes.set(`${p}mlp.down_proj.weight`, [D, F]);
    shapes.set(`${p}input_layernorm.weight`, [D]);
    shapes.set(`${p}post_attention_layernorm.weight`, [D]);
    if (extras.attentionBias) {
      shapes.set(`${p}self_attn.q_proj.bias`, [H * Dh]);
      shapes.set(`${p}self_attn.k_proj.bias`, [KV * Dh]);
      shapes.set(`${p}self_attn.v_proj.bias`, [KV * Dh]);
    }
    if (extras.qkNorm) {
      shapes.set(`${p}self_attn.q_norm.weight`, [Dh]);
      shapes.set(`${p}self_attn.k_norm.weight`, [Dh]);
    }
  }
  return shapes;
}

/** Every expected weight is there with its shape, and nothing else is. */
export function checkLlamaWeights(config: ModelConfig, weights: ReadonlyMap<string, HostTensor>, file: string): void {
  const expected = expectedLlamaShapes(config);
  const extras = modelExtras(config);
  for (const [name, shape] of expected) {
    const t = weights.get(name);
    if (!t) throw new FormatError(file, `tensor "${name}" is missing`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new FormatError(file, `tensor "${name}" has shape [${t.shape.join(', ')}], the config needs [${shape.join(', ')}]`);
    }
  }
  for (const name of weights.keys()) {
    if (!expected.has(name)) throw new FormatError(file, `tensor "${name}" is not part of this model (${config.numLayers} layers${extras.attentionBias ? ', q/k/v biases' : ''}${extras.qkNorm ? ', q/k norms' : ''}); it would be ignored`);
  }
}
