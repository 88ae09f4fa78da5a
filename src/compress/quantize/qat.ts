import * as tf from '@tensorflow/tfjs-core';
import type { Layer } from '../../models/types.ts';
import type { StepHooks, ZeroStage } from '../../runtime/engine/reducer.ts';
import { hash32, Rng } from '../../data/rng.ts';
import { log } from '../../runtime/logger.ts';
import { fakeQuantize, rounder } from './formulas.ts';
import { bitsAt, floatShareAt, specFor, type QatPlan } from './qat_plan.ts';

/**
 * Quantization-aware training as a decorator of the ZeRO stage: the stage's step hooks hand the
 * layers fake-quantized copies (x̂ = dequantize(quantize(w))) of the planned weights, and the
 * gradients the layers return for those copies go through addGrad onto the float32 weights
 * unchanged. That is the straight-through estimator: ∂L/∂w := ∂L/∂x̂. The optimizer, the
 * collectives and the checkpoints see float weights only; every other member of the stage is
 * the stage's own.
 *
 * `stepNow` gives the engine's global step (it survives checkpoint resume); `seed` seeds
 * stochastic rounding per (step, parameter), so every rank draws the same codes.
 */
export function withWeightQuantization(inner: ZeroStage, plan: QatPlan, stepNow: () => number, seed: number): ZeroStage {
  const ids = new Map([...plan.params.keys()].map((n, i) => [n, i]));
  let lastBits = new Map<string, number | null>();
  const beginStep = (): StepHooks => {
    const hooks = inner.beginStep();
    const step = stepNow();
    const bits = new Map([...plan.params].map(([n, g]) => [n, bitsAt(g, plan.offset, step)]));
    if (plan.verbose) logChanges(lastBits, bits, step);
    lastBits = bits;
    const share = floatShareAt(plan, step);
    // One fake-quantized tensor per parameter and acquisition: the tape and recompute need the same object every time.
    const made = new Map<string, tf.Tensor>();
    const fake = (name: string, w: tf.Tensor, b: number): tf.Tensor => {
      const x = w.dataSync() as Float32Array;
      const rng = plan.rounding === 'stochastic' ? new Rng(hash32(seed, step, ids.get(name)!)) : null;
      const q = fakeQuantize(x, w.shape, specFor(plan, w.shape, b), rounder(plan.rounding, rng ? () => rng.next() : undefined), name);
      if (share > 0) for (let i = 0; i < q.length; i++) q[i] = share * x[i]! + (1 - share) * q[i]!;
      // Kept: the layer loop may ask from inside tf.tidy, and the tensor must outlive it.
      return tf.keep(tf.tensor(q, w.shape, 'float32'));
    };
    const drop = (layer: Layer): void => {
      for (const p of layer.params) {
        made.get(p.name)?.dispose();
        made.delete(p.name);
      }
    };
    return {
      releasesParams: hooks.releasesParams,
      acquire: (layer, phase) => hooks.acquire(layer, phase),
      param: (name) => {
        const b = bits.get(name);
        if (b === undefined || b === null) return hooks.param(name);
        let t = made.get(name);
        if (!t) {
          t = fake(name, hooks.param(name), b);
          made.set(name, t);
        }
        return t;
      },
      // Stage 3 frees a layer's gathered weights after each phase; the copies go with them.
      release: (layer, phase) => {
        if (hooks.releasesParams) drop(layer);
        hooks.release(layer, phase);
      },
      addGrad: (name, g) => hooks.addGrad(name, g),
      afterBackward: (layer) => hooks.afterBackward(layer),
      close: () => {
        tf.dispose([...made.values()]);
        made.clear();
        hooks.close();
      },
    };
  };
  // Everything but beginStep is the stage's own (bound to it, so its fields stay its own).
  return new Proxy(inner, {
    get(target, key) {
      if (key === 'beginStep') return beginStep;
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

function logChanges(before: ReadonlyMap<string, number | null>, now: ReadonlyMap<string, number | null>, step: number): void {
  // Before the first step every weight counts as float: only real changes of bits are news.
  const changed = [...now].filter(([n, b]) => (before.get(n) ?? null) !== b);
  if (changed.length === 0) return;
  const byBits = new Map<string, string[]>();
  for (const [n, b] of changed) byBits.set(b === null ? 'float' : `${b} bits`, [...(byBits.get(b === null ? 'float' : `${b} bits`) ?? []), n]);
  for (const [b, ns] of byBits) log.info(`step ${step}: weight quantization: ${ns.length} weight(s) now ${b} (${ns.slice(0, 3).join(', ')}${ns.length > 3 ? ', …' : ''})`);
}
