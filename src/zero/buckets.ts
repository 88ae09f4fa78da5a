/**
 * Sharded gradient buckets (ZeRO-2/3): backward hands over each parameter's gradient as its
 * layer finishes; they are copied into a staging bucket, and once the bucket holds
 * reduce_bucket_size elements it is reduced between layers, each rank adding the part of the
 * sum that falls in its shard into its [S] gradient shard. No full gradient buffer exists.
 *
 *   staging: | q_proj.3 grad | k_proj.3 grad | … |        → packPlan by owner →
 *   packed:  | slot 0 (pieces in shard 0) | slot 1 | …  |  → reduce-scatter → own slot → += grads[S]
 *
 * A tied parameter (embeddings) arrives twice in one backward; both arrivals are staged and
 * reduced, and the sum is linear, so the shard ends with their total.
 */
import type { ProcessGroup, WireDtype } from '../runtime/comm/index.ts';
import { packPlan, type Partition, type StagedRange } from './partition.ts';
import { sumAllReduce, sumReduceScatter } from './wire.ts';

export interface BucketOptions {
  readonly bucketElems: number;
  readonly wire: WireDtype;
  /** false (DeepSpeed's reduce_scatter: false): all-reduce the packed bucket, keep the own slot. */
  readonly reduceScatter: boolean;
}

export class GradBuckets {
  private staging = new Float32Array(0);
  private used = 0;
  private ranges: StagedRange[] = [];
  private packed = new Float32Array(0);
  private slot = new Float32Array(0);

  constructor(
    private readonly pg: ProcessGroup | null,
    private readonly part: Partition,
    /** This rank's gradient shard [S]. */
    private readonly grads: Float32Array,
    private readonly opts: BucketOptions,
  ) {}

  /** Stages g [len], the gradient of flat range [flat, flat + len). */
  add(flat: number, g: Float32Array): void {
    if (this.used + g.length > this.staging.length) {
      // Grows as gradients arrive (doubling, up to the bucket size): a bucket larger than the
      // model (DeepSpeed's default 5e8) costs what the model's gradients need, not 2 GB.
      const grown = new Float32Array(Math.max(this.used + g.length, Math.min(this.opts.bucketElems, 2 * this.staging.length)));
      grown.set(this.staging.subarray(0, this.used));
      this.staging = grown;
    }
    this.staging.set(g, this.used);
    this.ranges.push({ flat, len: g.length, at: this.used });
    this.used += g.length;
  }

  /** Reduces the bucket if it is full (between layers). */
  async maybeFlush(): Promise<void> {
    if (this.used >= this.opts.bucketElems) await this.flush();
  }

  /** Reduces whatever is staged (at the accumulation boundary). */
  async flush(): Promise<void> {
    if (this.ranges.length === 0) return;
    const { shardSize: S, worldSize: n, rank } = this.part;
    const plan = packPlan(this.ranges, S, n);
    const own = plan.perRank[rank]!;
    if (!this.pg || n === 1) {
      for (const p of own) addInto(this.grads, p.local, this.staging, p.at, p.len);
    } else {
      const m = plan.m;
      if (this.packed.length < n * m) this.packed = new Float32Array(n * m);
      if (this.slot.length < m) this.slot = new Float32Array(m);
      const packed = this.packed.subarray(0, n * m);
      packed.fill(0);
      plan.perRank.forEach((pieces, k) => {
        for (const p of pieces) packed.set(this.staging.subarray(p.at, p.at + p.len), k * m + p.packed);
      });
      const slot = this.slot.subarray(0, m);
      if (this.opts.reduceScatter) await sumReduceScatter(this.pg, packed, slot, this.opts.wire);
      else {
        await sumAllReduce(this.pg, packed, this.opts.wire);
        slot.set(packed.subarray(rank * m, (rank + 1) * m));
      }
      for (const p of own) addInto(this.grads, p.local, slot, p.packed, p.len);
    }
    this.ranges = [];
    this.used = 0;
  }

  /** Bytes of the staging and packing buffers (reused, not model state). */
  get bufferBytes(): number {
    return this.staging.byteLength + this.packed.byteLength + this.slot.byteLength;
  }
}

function addInto(dst: Float32Array, at: number, src: Float32Array, from: number, len: number): void {
  for (let i = 0; i < len; i++) dst[at + i]! += src[from + i]!;
}
