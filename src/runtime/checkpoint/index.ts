export { saveCheckpoint, type SaveOptions, type SaveResult } from './save.ts';
export { loadCheckpoint, readLatest, type LoadOptions, type LoadedCheckpoint } from './load.ts';
export { listCheckpoints, keepLast, type CheckpointInfo } from './list.ts';
export { weightDtypeFromConfig, type CheckpointBuffer, type HalfDtype, type StorageDtype } from './dtype.ts';
export type { FileEntry, GridCoord, Manifest, RankLayout, SegmentRecord, SliceRecord } from './layout.ts';
export { assembleFull, cutLocal, type FlatPart, type LayoutEntry } from './assemble.ts';
export type { WriteHooks } from './atomic.ts';
export { consolidateCheckpoint, readFlatPart, sameSegments, type ConsolidateOptions, type ConsolidatedState, type FlatPartState, type ZeroLayout } from './consolidate.ts';
