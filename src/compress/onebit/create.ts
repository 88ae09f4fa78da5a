/**
 * The edge where 1-bit Adam is built: initialize() calls this instead of createZeroStage when
 * optimizer.type is "OneBitAdam" (config/onebit_checks.ts has refused ZeRO stages above 0).
 * The warm-up is stage 0 itself, built with OneBitAdam as its optimizer.
 */
import { createZeroStage, type ZeroBlock, type ZeroPlace } from '../../zero/index.ts';
import type { OptimizerOptions } from '../../runtime/optim/types.ts';
import { assert } from '../../errors.ts';
import { OneBitAdam, type OneBitAdamParams } from './onebit_adam.ts';
import { OneBitStage } from './onebit_stage.ts';

export async function createOneBitStage(
  params: OneBitAdamParams,
  zero: ZeroBlock,
  place: Omit<ZeroPlace, 'createOptimizer'>,
  opts: Pick<OptimizerOptions, 'betasAt'> = {},
): Promise<OneBitStage> {
  assert(zero.stage === 0, () => `createOneBitStage: zero_optimization.stage ${zero.stage} passed validation`);
  const made: { optimizer?: OneBitAdam } = {};
  const base = await createZeroStage(zero, { ...place, createOptimizer: (n) => (made.optimizer = new OneBitAdam(params, n, opts)) });
  assert(made.optimizer !== undefined, 'createOneBitStage: stage 0 built no optimizer');
  return new OneBitStage(base, made.optimizer, place.pg);
}
