export type { FlatOptimizer, OptimizerParams } from './types.ts';
export { Adam } from './adam.ts';
export { Sgd } from './sgd.ts';
export { Lamb } from './lamb.ts';
export { createOptimizer, baseLr } from './create.ts';
export { createScheduler, type LrSchedule } from './schedulers.ts';
