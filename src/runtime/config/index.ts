export { loadConfig, type DsConfig, type LoadOptions } from './load.ts';
export { configSchema, OPTIMIZERS, SCHEDULERS, type RawConfig } from './schema.ts';
export { modelConfigFromDs } from './model.ts';
