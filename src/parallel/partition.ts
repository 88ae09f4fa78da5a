/**
 * Cutting the layer list into pipeline stages: contiguous slices, by layer count ("uniform") or
 * balanced by parameter count ("parameters", DeepSpeed's default partition_method). Stage s
 * owns layers [bounds[s], bounds[s + 1]).
 */
import { ConfigError } from '../errors.ts';
import type { Layer, Model } from '../models/types.ts';

export type PartitionMethod = 'uniform' | 'parameters';

const paramsOf = (l: Layer): number => l.params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);

export function partitionLayers(layers: readonly Layer[], stages: number, method: PartitionMethod): number[] {
  const n = layers.length;
  if (stages > n) throw new ConfigError('pipeline.stages', `${stages} stages for a model of ${n} layers in its layer list (embedding, 2 per decoder block, head): at most ${n}`);
  if (method === 'uniform') return Array.from({ length: stages + 1 }, (_, s) => Math.round((s * n) / stages));
  // Balanced: choose cuts that minimise the heaviest stage (binary search on the bound, greedy fill).
  const w = layers.map((l) => Math.max(1, paramsOf(l)));
  const fits = (cap: number): number[] | null => {
    const bounds = [0];
    let load = 0;
    for (let i = 0; i < n; i++) {
      const remainingLayers = n - i;
      const remainingStages = stages - bounds.length;
      if ((load + w[i]! > cap && load > 0) || remainingLayers === remainingStages) {
        if (bounds.length === stages) return null;
        bounds.push(i);
        load = 0;
      }
      if (w[i]! > cap) return null;
      load += w[i]!;
    }
    bounds.push(n);
    return bounds.length === stages + 1 ? bounds : null;
  };
  let lo = Math.max(...w);
  let hi = w.reduce((a, b) => a + b, 0);
  let best = fits(hi)!;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const b = fits(mid);
    if (b) {
      best = b;
      hi = mid;
    } else lo = mid + 1;
  }
  return fits(lo) ?? best;
}

/** Stage s's slice of the model: the same config, its layers only. */
export function stageModel(model: Model, bounds: readonly number[], s: number): Model {
  return { config: model.config, layers: model.layers.slice(bounds[s], bounds[s + 1]) };
}
