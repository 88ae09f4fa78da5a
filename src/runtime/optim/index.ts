export type { Optimizer, FlatOptimizer, OptimizerParams, OptimizerOptions, OptimizerState, ParamRange } from './types.ts';
export { Adam } from './adam.ts';
export { AdamW } from './adamw.ts';
export { Sgd } from './sgd.ts';
export { Lamb } from './lamb.ts';
export { createOptimizer, baseLr, isNormOrBias, type OptimizerBlock } from './create.ts';
export { createScheduler, warmupGamma, type LrSchedule, type SchedulerBlock } from './schedulers/index.ts';
export { sumSquares, scaleInPlace, clipFactor, clipByGlobalNorm } from './clip.ts';
