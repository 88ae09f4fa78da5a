/** Collectives over TCP: the public API of src/runtime/comm. */
export { initProcessGroup, DEFAULT_TIMEOUT_MS, DEFAULT_CHUNK_BYTES } from './init.ts';
export { readDistEnv, DEFAULT_MASTER_PORT } from './env.ts';
export type { DistEnv, DistEnvSource } from './env.ts';
export { StoreServer } from './store_server.ts';
export { StoreClient, StoreTimeoutError } from './store.ts';
export { f32BitsToF16, f32BitsToBf16, packF16, packBf16, unpackF16, unpackBf16 } from './half.ts';
export type {
  ProcessGroup, InitOptions, ReduceOp, WireDtype, CollectiveKind, CollectiveOptions, AllReduceOptions,
  ReduceScatterOptions, AllGatherOptions, CommStats, KindStats,
} from './types.ts';
