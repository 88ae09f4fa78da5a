import type { DsConfig } from '../config/index.ts';
import { Adam } from './adam.ts';
import { Lamb } from './lamb.ts';
import { Sgd } from './sgd.ts';
import type { FlatOptimizer, OptimizerParams } from './types.ts';

type OptimizerBlock = NonNullable<DsConfig['optimizer']>;

const DEFAULT: OptimizerBlock = {
  type: 'Adam',
  params: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, bias_correction: true, momentum: 0, nesterov: false, dampening: 0, max_coeff: 10, min_coeff: 0.01 },
};

/** The optimizer the config's `optimizer` block names, over `numel` elements starting at `from`. */
export function createOptimizer(block: OptimizerBlock | undefined, numel: number, from = 0): FlatOptimizer {
  const b = block ?? DEFAULT;
  const p = b.params as OptimizerParams;
  switch (b.type) {
    case 'Adam':
      // DeepSpeed's Adam defaults to decoupled decay (adam_w_mode true) unless told otherwise.
      return new Adam(p, b.params.adam_w_mode ?? true, numel, from);
    case 'AdamW':
      return new Adam(p, true, numel, from);
    case 'SGD':
      return new Sgd(p, numel, from);
    case 'Lamb':
      return new Lamb(p, numel, from);
  }
}

/** The learning rate the optimizer block sets (schedulers start from it). */
export function baseLr(block: OptimizerBlock | undefined): number {
  return (block ?? DEFAULT).params.lr;
}
