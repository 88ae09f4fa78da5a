import * as tf from '@tensorflow/tfjs-core';
import { FormatError } from '../../errors.ts';
import type { LoadedModel, HostTensor } from '../loaders/types.ts';

type WeightSource = Pick<LoadedModel, 'config' | 'weights' | 'source'>;

/**
 * The weights as the runner uses them. Linear weights go to tfjs pre-transposed to [in, out]
 * (a plain x·W is XNNPACK's fast path on wasm) and fused where they read the same input:
 *   qkv    [D, (H + 2·Hkv)·Dh]   columns: q heads, then k heads, then v heads
 *   gateUp [D, 2F]               columns: gate, then up
 * Norm weights and the embedding table stay on the host (row-wise work done in TypeScript).
 */
export interface LayerWeights {
  readonly inputNorm: Float32Array; // [D]
  readonly postNorm: Float32Array; // [D]
  readonly qkv: tf.Tensor2D; // [D, (H + 2Hkv)·Dh]
  readonly o: tf.Tensor2D; // [H·Dh, D]
  readonly gateUp: tf.Tensor2D; // [D, 2F]
  readonly down: tf.Tensor2D; // [F, D]
}

export interface RunnerWeights {
  readonly embed: Float32Array; // [V, D]
  readonly layers: readonly LayerWeights[];
  readonly finalNorm: Float32Array; // [D]
  readonly lmHead: tf.Tensor2D; // [D, V]
}

function get(model: WeightSource, name: string, shape: readonly number[]): HostTensor {
  const t = model.weights.get(name);
  if (!t) throw new FormatError(model.source, `weight ${name} is missing`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new FormatError(model.source, `weight ${name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  return t;
}

/** Stacks HF [out_k, in] matrices (same in) and transposes: → [in, Σ out_k]. */
function fuseTransposed(parts: readonly HostTensor[]): tf.Tensor2D {
  const inDim = parts[0]!.shape[1]!;
  const outDim = parts.reduce((n, p) => n + p.shape[0]!, 0);
  const w = new Float32Array(inDim * outDim);
  let col = 0;
  for (const p of parts) {
    const rows = p.shape[0]!;
    for (let o = 0; o < rows; o++) {
      const src = o * inDim;
      for (let i = 0; i < inDim; i++) w[i * outDim + col + o] = p.data[src + i]!;
    }
    col += rows;
  }
  return tf.tensor2d(w, [inDim, outDim]);
}

export function uploadWeights(model: WeightSource): RunnerWeights {
  const c = model.config;
  const { hiddenSize: D, numHeads: H, numKvHeads: Hkv, headDim: Dh, intermediateSize: F, vocabSize: V } = c;
  const embed = get(model, 'model.embed_tokens.weight', [V, D]);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    layers.push({
      inputNorm: get(model, `${p}input_layernorm.weight`, [D]).data,
      postNorm: get(model, `${p}post_attention_layernorm.weight`, [D]).data,
      qkv: fuseTransposed([
        get(model, `${p}self_attn.q_proj.weight`, [H * Dh, D]),
        get(model, `${p}self_attn.k_proj.weight`, [Hkv * Dh, D]),
        get(model, `${p}self_attn.v_proj.weight`, [Hkv * Dh, D]),
      ]),
      o: fuseTransposed([get(model, `${p}self_attn.o_proj.weight`, [D, H * Dh])]),
      gateUp: fuseTransposed([get(model, `${p}mlp.gate_proj.weight`, [F, D]), get(model, `${p}mlp.up_proj.weight`, [F, D])]),
      down: fuseTransposed([get(model, `${p}mlp.down_proj.weight`, [D, F])]),
    });
  }
  const head = c.tieWordEmbeddings && !model.weights.has('lm_head.weight') ? embed : get(model, 'lm_head.weight', [V, D]);
  return {
    embed: embed.data,
    layers,
    finalNorm: get(model, 'model.norm.weight', [D]).data,
    lmHead: fuseTransposed([head]),
  };
}

export function disposeWeights(w: RunnerWeights): void {
  for (const l of w.layers) tf.dispose([l.qkv, l.o, l.gateUp, l.down]);
  w.lmHead.dispose();
}
