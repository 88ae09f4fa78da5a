import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../types.ts';
import { causalMask, ropeTables, type RopeTables } from '../ops.ts';

/**
 * Rope tables and causal masks are constants of (config, offset, T): built once and kept,
 * so a training step does not rebuild them in every layer and every recompute.
 */
const ropeCache = new Map<string, RopeTables>();
const maskCache = new Map<number, tf.Tensor2D>();
const MAX_ENTRIES = 64;

export function cachedRope(config: ModelConfig, offset: number, T: number): RopeTables {
  const key = `${config.headDim}:${config.ropeTheta}:${config.ropeStyle}:${offset}:${T}`;
  let r = ropeCache.get(key);
  if (!r) {
    if (ropeCache.size >= MAX_ENTRIES) clearConstantCache();
    r = tf.tidy(() => {
      const t = ropeTables(config, offset, T);
      return { cos: tf.keep(t.cos), sin: tf.keep(t.sin), rot: tf.keep(t.rot) };
    });
    ropeCache.set(key, r);
  }
  return r;
}

export function cachedCausalMask(T: number): tf.Tensor2D {
  let m = maskCache.get(T);
  if (!m) {
    m = tf.tidy(() => tf.keep(causalMask(T)));
    maskCache.set(T, m);
  }
  return m;
}

export function clearConstantCache(): void {
  for (const r of ropeCache.values()) tf.dispose([r.cos, r.sin, r.rot]);
  for (const m of maskCache.values()) m.dispose();
  ropeCache.clear();
  maskCache.clear();
}
