/**
 * The bucketed collectives on whole flat buffers that stages 0-2 use at the boundary. Buckets
 * bound the size of one collective (DeepSpeed's reduce_bucket_size / allgather_bucket_size, in
 * elements); a shard-aligned bucket takes the same slice [c0, c1) of every shard:
 *
 *   full [n·S]: | shard 0 |#####|      | shard 1 |#####|      | …      ← round [c0, c1) of each shard
 */
import type { ProcessGroup, WireDtype } from '../runtime/comm/index.ts';
import type { Partition } from './partition.ts';
import { sumAllReduce, sumReduceScatter } from './wire.ts';

/** In place: grads[0, numel) ← Σ_ranks, in buckets of bucketElems. */
export async function allReduceBuckets(pg: ProcessGroup, grads: Float32Array, numel: number, bucketElems: number, wire: WireDtype): Promise<void> {
  for (let off = 0; off < numel; off += bucketElems) await sumAllReduce(pg, grads.subarray(off, Math.min(numel, off + bucketElems)), wire);
}

/** Rounds of at most bucketElems elements in all, cut as the same slice of every shard. */
function rounds(part: Partition, bucketElems: number): [number, number][] {
  const per = Math.max(1, Math.floor(bucketElems / part.worldSize));
  const out: [number, number][] = [];
  for (let c0 = 0; c0 < part.shardSize; c0 += per) out.push([c0, Math.min(part.shardSize, c0 + per)]);
  return out;
}

/** own [S] ← Σ_ranks full[lo, hi) (reduce-scatter of the full [n·S] gradient, bucketed). */
export async function reduceScatterBuckets(pg: ProcessGroup, full: Float32Array, own: Float32Array, part: Partition, bucketElems: number, wire: WireDtype): Promise<void> {
  const { worldSize: n, shardSize: S } = part;
  for (const [c0, c1] of rounds(part, bucketElems)) {
    const len = c1 - c0;
    const packed = new Float32Array(n * len);
    for (let k = 0; k < n; k++) packed.set(full.subarray(k * S + c0, k * S + c1), k * len);
    await sumReduceScatter(pg, packed, own.subarray(c0, c1), wire);
  }
}

/**
 * After the step: every rank's updated shard of `data` [n·S] into every rank's copy, bucketed.
 * Always float32: each rank must hold exactly its owner's master values.
 */
export async function allGatherShards(pg: ProcessGroup, data: Float32Array, part: Partition, bucketElems: number): Promise<void> {
  const { worldSize: n, shardSize: S, lo } = part;
  for (const [c0, c1] of rounds(part, bucketElems)) {
    const len = c1 - c0;
    const out = new Float32Array(n * len);
    await pg.allGather(data.slice(lo + c0, lo + c1), out);
    for (let k = 0; k < n; k++) data.set(out.subarray(k * len, (k + 1) * len), k * S + c0);
  }
}
