/** deepscale's public API, by name. Subsystems also have their own index files. */
export { initialize, type InitializeOptions, type TrainingRuntime } from './runtime/initialize.ts';
export { Engine, type EngineOptions, type StepResult } from './runtime/engine/engine.ts';
export type { MicroBatch } from './runtime/engine/executor.ts';
export { loadConfig, modelConfigFromDs, type DsConfig } from './runtime/config/index.ts';
export { initBackend, type BackendInfo } from './runtime/backend/index.ts';
export { initProcessGroup, readDistEnv, type ProcessGroup } from './runtime/comm/index.ts';
export { buildLlama } from './models/llama.ts';
export { makeModelConfig } from './models/config.ts';
export type { Layer, Model, ModelConfig, ParamSpec } from './models/types.ts';
export { AdditionTask, ReversalTask, taskBatches, taskTokenizer, trainBpe, loadTokenizer, saveTokenizer } from './data/index.ts';
export { loadModel } from './inference/loaders/index.ts';
export { LLM, LLMEngine, AsyncLLMEngine, type RequestOutput } from './inference/engine/index.ts';
export { ApiServer } from './inference/server/index.ts';
export * from './errors.ts';
