import * as tf from '@tensorflow/tfjs-core';
import type { Layer, ModelConfig } from '../types.ts';
import { linear } from '../ops.ts';
import { fusedRmsNorm, fusedSwiGlu } from '../fused/index.ts';

/** The MLP branch of decoder block i: down(silu(gate(h)) ⊙ up(h)), h = post_attention_layernorm(x); the executor adds it to x. */
export function mlpLayer(config: ModelConfig, i: number): Layer {
  const { hiddenSize: D, intermediateSize: F, rmsNormEps: eps } = config;
  const pre = `model.layers.${i}`;
  const n = {
    norm: `${pre}.post_attention_layernorm.weight`,
    gate: `${pre}.mlp.gate_proj.weight`,
    up: `${pre}.mlp.up_proj.weight`,
    down: `${pre}.mlp.down_proj.weight`,
  };
  const init = { kind: 'normal', std: config.initStd } as const;
  const outInit = { kind: 'normal', std: config.initStd / Math.sqrt(2 * config.numLayers) } as const;
  return {
    name: `layers.${i}.mlp`,
    input: 'hidden',
    residual: true,
    params: [
      { name: n.norm, shape: [D], init: { kind: 'ones' }, tpDim: null },
      { name: n.gate, shape: [F, D], init, tpDim: 0 },
      { name: n.up, shape: [F, D], init, tpDim: 0 },
      { name: n.down, shape: [D, F], init: outInit, tpDim: 1 },
    ],
    forward(p, x) {
      const [B, T] = x.shape as [number, number, number];
      const h = fusedRmsNorm(tf.reshape(x, [B * T, D]) as tf.Tensor2D, p[n.norm]!, eps); // [B·T, D]
      const act = fusedSwiGlu(linear(h, p[n.gate]!), linear(h, p[n.up]!)); // silu(gate) ⊙ up, [B·T, F]
      return tf.reshape(linear(act, p[n.down]!), [B, T, D]); // the branch: the executor adds x (applyLayer)
    },
  };
}
