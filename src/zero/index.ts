/** ZeRO: one implementation per stage of the engine's ZeroStage contract, chosen in choose.ts. */
export { createZeroStage, type ZeroBlock, type ZeroPlace } from './choose.ts';
export { countOnce, modelParallelNorm, type ModelParallelNorm } from './norm.ts';
export { Stage0 } from './stage0.ts';
export { Stage1 } from './stage1.ts';
export { Stage2 } from './stage2.ts';
export { Stage3 } from './stage3.ts';
export { Partition, packPlan } from './partition.ts';
export type { ZeroStage, MemoryReport, StepOutcome, ZeroLayout, FullState } from '../runtime/engine/reducer.ts';
