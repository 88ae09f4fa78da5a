/**
 * What stages 1-3 share: the optimizer over this rank's shard only, and the checkpoint and
 * restore of shards. Shard buffers are [S]; past the model's last element the last shard is
 * padding, which the optimizer never touches (its segments end at numel).
 */
import type { FullState, ZeroLayout } from '../runtime/engine/reducer.ts';
import type { Optimizer } from '../runtime/optim/types.ts';
import type { Partition } from './partition.ts';

/** full [numel] → this rank's [S] slice, zero past numel. */
export function shardOf(full: Float32Array, part: Partition): Float32Array {
  const out = new Float32Array(part.shardSize);
  out.set(full.subarray(Math.min(part.lo, full.length), Math.min(part.hi, full.length)));
  return out;
}

/** This rank's files: its parameter shard and its optimizer shard, cut as `partition` says. */
export function shardFiles(
  stage: number, params: Float32Array, optimizer: Optimizer, part: { readonly worldSize: number; readonly shardSize: number }, numel: number, partition: ZeroLayout['partition'],
): { files: Record<string, Float32Array>; layout: ZeroLayout } {
  const files: Record<string, Float32Array> = { params };
  for (const [k, v] of Object.entries(optimizer.state().buffers)) files[`optim.${k}`] = v;
  return { files, layout: { stage, worldSize: part.worldSize, numel, shardSize: part.shardSize, sharded: { params: true, optimizer: true }, partition } };
}

/** Restores this rank's optimizer shard from full state. */
export function loadOptimizerShard(optimizer: Optimizer, state: FullState, shard: (full: Float32Array) => Float32Array): void {
  const buffers: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(state.optimizer)) buffers[k] = shard(v);
  optimizer.loadState({ buffers, step: state.optimizerStep });
}
