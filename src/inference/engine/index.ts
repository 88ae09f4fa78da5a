export { LLMEngine } from './llm_engine.ts';
export { AsyncLLMEngine } from './async_engine.ts';
export { LLM } from './llm.ts';
export type { LLMOptions } from './llm.ts';
export { resolveEngineConfig, parseMemory } from './config.ts';
export type { EngineConfig, EngineConfigInput, BatchingMode } from './config.ts';
export type { RequestOutput, CompletionOutput, RequestMetrics, EngineStats, OutputFinishReason } from './outputs.ts';
