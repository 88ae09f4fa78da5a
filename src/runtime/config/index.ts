export { loadConfig, type DsConfig, type LoadOptions, type Precision, type Dtype } from './load.ts';
export { resolveBatch, type BatchSizes } from './batch.ts';
export { configSchema, OPTIMIZERS, SCHEDULERS, type RawConfig } from './schema.ts';
export { nearest } from './suggest.ts';
export { modelConfigFromDs } from './model.ts';
