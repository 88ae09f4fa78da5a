export { createKvLayerCache, writeKv, blockStride } from './cache.ts';
export type { KvCacheShape, KvLayerCache } from './cache.ts';
export { pagedAttention } from './paged_attention.ts';
export { WasmPagedAttention, allocKvPools } from './wasm_attention.ts';
export type { KvPoolLayout, AttendShape } from './wasm_attention.ts';
export type { AttentionSeq, PagedAttentionArgs } from './paged_attention.ts';
export { copyBlocks, copyBlocksBetween, swapOut, swapIn } from './blocks.ts';
export type { BlockCopyPair, BlockSwapPair } from './blocks.ts';
