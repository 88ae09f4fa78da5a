import { loadConfig } from '../../../src/runtime/config/index.ts';
import type { OptimizerBlock, OptimizerParams, ParamRange } from '../../../src/runtime/optim/index.ts';

/** Deterministic values in [-1, 1) (Park–Miller), so the references see the same inputs. */
export function rand(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1);
}

export const P: OptimizerParams = {
  lr: 1e-2,
  betas: [0.9, 0.99],
  eps: 1e-8,
  weight_decay: 0.1,
  bias_correction: true,
  momentum: 0.9,
  nesterov: false,
  dampening: 0,
  max_coeff: 10,
  min_coeff: 0.01,
};

export const N = 37;
export const P0 = rand(N, 3);
/** Five steps of gradients. */
export const GRADS = [1, 2, 3, 4, 5].map((k) => rand(N, 100 + k));
export const SEGS: ParamRange[] = [
  { name: 'layers.0.q_proj', offset: 0, numel: 20 },
  { name: 'layers.0.input_layernorm', offset: 20, numel: 17 },
];

/** Runs an optimizer over every gradient in turn on a float32 copy of p0. */
export function run(
  opt: { step(p: Float32Array, g: Float32Array, lr: number, s: readonly ParamRange[]): void },
  p0: readonly number[],
  gs: readonly number[][],
  segs: readonly ParamRange[],
  lr = P.lr,
): Float32Array {
  const p = Float32Array.from(p0);
  for (const g of gs) opt.step(p, Float32Array.from(g), lr, segs);
  return p;
}

/** float32 vs float64: agreement to a relative 1e-5 of the larger magnitude. */
export function expectClose(got: ArrayLike<number>, want: readonly number[], tol = 1e-5): void {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (d > tol * Math.max(1, Math.abs(want[i]!))) throw new Error(`index ${i}: got ${got[i]}, want ${want[i]} (|diff| ${d})`);
  }
}

/** An optimizer block as loadConfig validates it (defaults filled, frozen). */
export function optimizerBlock(optimizer: object): OptimizerBlock {
  return loadConfig({ train_micro_batch_size_per_gpu: 1, optimizer }, { dpWorldSize: 1 }).optimizer!;
}
