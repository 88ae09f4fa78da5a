export { ModelRunner } from './model_runner.ts';
export type { ModelRunnerOptions } from './model_runner.ts';
export { buildBatch } from './batch.ts';
export type { RunnerBatch, RunnerSeq } from './batch.ts';
export { RopeTable } from './rope.ts';
export { placeWeights } from './weights.ts';
export type { RunnerWeights, LayerWeights } from './weights.ts';
