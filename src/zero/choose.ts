/**
 * The edge where a ZeRO stage is chosen: the config's zero_optimization block (validated, with
 * its refusals, in config/zero_checks.ts) picks one implementation; nothing else looks at the
 * stage number.
 */
import type { ProcessGroup } from '../runtime/comm/index.ts';
import type { DsConfig } from '../runtime/config/index.ts';
import type { Dtype } from '../runtime/config/index.ts';
import type { ZeroStage } from '../runtime/engine/reducer.ts';
import type { Optimizer } from '../runtime/optim/types.ts';
import type { Model } from '../models/types.ts';
import type { ZeroContext } from './context.ts';
import type { ModelParallelNorm } from './norm.ts';
import { HostAdam } from './offload/host_adam.ts';
import { optimizer as optimizerSchema } from '../runtime/config/blocks.ts';
import type { OptimizerBlock } from '../runtime/optim/index.ts';
import { assert } from '../errors.ts';
import { Stage0 } from './stage0.ts';
import { Stage1 } from './stage1.ts';
import { Stage2 } from './stage2.ts';
import { Stage3 } from './stage3.ts';

export type ZeroBlock = DsConfig['zero_optimization'];

export interface ZeroPlace {
  readonly pg: ProcessGroup | null;
  readonly rank: number;
  readonly worldSize: number;
  readonly model: Model;
  readonly seed: number;
  /** Precision of gradients on the wire (config.precision.wire). */
  readonly wire: Dtype;
  readonly createOptimizer: (numel: number) => Optimizer;
  /** The optimizer block and the scheduler's betas, for the host workers' Adam (offload_optimizer cpu). */
  readonly optimizerBlock?: OptimizerBlock;
  readonly betasAt?: (step: number) => readonly [number, number] | null;
  /**
   * When this rank holds part of a model replica (pipeline stages, tensor-parallel slices): the
   * group and the counting rule that make the clipping norm global (norm.ts; modelParallelNorm).
   */
  readonly modelParallel?: ModelParallelNorm;
}

/** Offload's Adam from the config's optimizer block (config/zero_checks.ts allows Adam and AdamW only). */
function hostAdam(block: OptimizerBlock | undefined, numel: number, betasAt: ZeroPlace['betasAt']): Optimizer {
  const b = block ?? optimizerSchema.parse({ type: 'AdamW' });
  assert(b.type === 'Adam' || b.type === 'AdamW', () => `offload: optimizer ${b.type} passed validation`);
  const decoupled = b.type === 'AdamW' || b.params.adam_w_mode !== false;
  return new HostAdam(b.params, decoupled, numel, betasAt);
}

/** Builds, initializes (seeded, broadcast from rank 0) and returns this rank's stage. */
export async function createZeroStage(zero: ZeroBlock, place: ZeroPlace): Promise<ZeroStage> {
  const ctx: ZeroContext = {
    ...place,
    wire: place.wire === 'fp32' ? 'float32' : place.wire,
    reduceBucketElems: Math.max(1, Math.floor(zero.reduce_bucket_size)),
    allgatherBucketElems: Math.max(1, Math.floor(zero.allgather_bucket_size)),
    reduceScatter: zero.reduce_scatter,
    persistenceThreshold: zero.stage3_param_persistence_threshold,
    offload: zero.offload_optimizer.device === 'cpu',
    createOptimizer: zero.offload_optimizer.device === 'cpu' ? (n) => hostAdam(place.optimizerBlock, n, place.betasAt) : place.createOptimizer,
    overlap: zero.overlap_comm,
    prefetchElems: zero.stage3_prefetch_bucket_size,
  };
  switch (zero.stage) {
    case 0:
      return Stage0.create(ctx);
    case 1:
      return Stage1.create(ctx);
    case 2:
      return Stage2.create(ctx);
    case 3:
      return Stage3.create(ctx);
    default:
      throw new Error(`createZeroStage: stage ${zero.stage} passed validation`);
  }
}
