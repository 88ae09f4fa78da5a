import type { DsConfig } from '../config/index.ts';
import { ConfigError } from '../../errors.ts';
import { Adam } from './adam.ts';
import { AdamW } from './adamw.ts';
import { Lamb } from './lamb.ts';
import { Sgd } from './sgd.ts';
import type { Optimizer, OptimizerOptions, OptimizerParams } from './types.ts';

export type OptimizerBlock = NonNullable<DsConfig['optimizer']>;

/** No optimizer block: Adam with DeepSpeed's defaults (which decouple weight decay). */
const DEFAULT_PARAMS: OptimizerParams = {
  lr: 1e-3,
  betas: [0.9, 0.999],
  eps: 1e-8,
  weight_decay: 0,
  bias_correction: true,
  momentum: 0,
  nesterov: false,
  dampening: 0,
  max_coeff: 10,
  min_coeff: 0.01,
};

/**
 * The optimizer the config's `optimizer` block names, over `numel` elements of the flat buffer
 * starting at `opts.from`. DeepSpeed's mapping: "AdamW" is AdamW; "Adam" is AdamW too unless
 * adam_w_mode is false (then Adam with L2 decay); names are matched case-insensitively by the
 * schema already.
 */
export function createOptimizer(block: OptimizerBlock | undefined, numel: number, opts: OptimizerOptions = {}): Optimizer {
  if (!block) return new AdamW(DEFAULT_PARAMS, numel, opts);
  const p: OptimizerParams = block.params;
  switch (block.type) {
    case 'Adam':
      return block.params.adam_w_mode === false ? new Adam(p, numel, opts) : new AdamW(p, numel, opts);
    case 'AdamW':
      return new AdamW(p, numel, opts);
    case 'SGD':
      return new Sgd(p, numel, opts);
    case 'Lamb':
      return new Lamb(p, numel, opts);
    case 'OneBitAdam':
      throw new ConfigError('optimizer.type', 'OneBitAdam owns its communication, so its stage builds it (createOneBitStage in src/compress/onebit, chosen in initialize); createOptimizer builds the optimizers that do not communicate');
  }
}

/** The learning rate the optimizer block sets (schedulers scale or replace it). */
export function baseLr(block: OptimizerBlock | undefined): number {
  return block?.params.lr ?? DEFAULT_PARAMS.lr;
}

/** A common weight-decay exclusion: norms and biases (names as the model's ParamSpecs give them). */
export function isNormOrBias(segment: { readonly name: string }): boolean {
  return /norm|bias/i.test(segment.name);
}
