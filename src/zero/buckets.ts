/**
 * Sharded gradient buckets (ZeRO-2/3): backward hands over each parameter's gradient as its
 * layer finishes; they are copied into a staging bucket, and once the bucket holds
 * reduce_bucket_size elements it is reduced between layers, each rank adding the part of the
 * sum that falls in its shard into its [S] gradient shard. No full gradient buffer exists.
 *
 *   staging: | q_proj.3 grad | k_proj.3 grad | … |        → packed by owner (Packing) →
 *   packed:  | slot 0 (pieces in shard 0) | slot 1 | …  |  → reduce-scatter → own slot → += grads[S]
 *
 * A tied parameter (embeddings) arrives twice in one backward; both arrivals are staged and
 * reduced, and the sum is linear, so the shard ends with their total.
 *
 * overlap_comm: a full bucket is packed (a copy) and its reduce-scatter started, and backward
 * goes on without waiting; the bytes move in the kernel while the next layers compute, and the
 * boundary waits for every bucket still in flight. The group runs collectives in call order, so
 * every rank reduces the same buckets in the same order.
 */
import type { ProcessGroup, WireDtype } from '../runtime/comm/index.ts';
import type { Packing, StagedRange } from './partition.ts';
import { sumAllReduce, sumReduceScatter } from './wire.ts';

export interface BucketOptions {
  readonly bucketElems: number;
  readonly wire: WireDtype;
  /** false (DeepSpeed's reduce_scatter: false): all-reduce the packed bucket, keep the own slot. */
  readonly reduceScatter: boolean;
  /** Start a full bucket's reduce and go on (zero_optimization.overlap_comm). */
  readonly overlap: boolean;
}

export class GradBuckets {
  private staging = new Float32Array(0);
  private used = 0;
  private ranges: StagedRange[] = [];
  private inFlight: Promise<void>[] = [];
  private inFlightBytes = 0;
  private peakInFlightBytes = 0;

  constructor(
    private readonly pg: ProcessGroup | null,
    private readonly packing: Packing,
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

  /** Between layers: reduces the bucket if it is full (with overlap, starts it and returns). */
  async maybeFlush(): Promise<void> {
    if (this.used < this.opts.bucketElems) return;
    const p = this.start();
    if (!this.opts.overlap) return p;
    // Awaited at the boundary; until then a failure must not count as unhandled.
    p.catch(() => {});
    this.inFlight.push(p);
  }

  /** At the accumulation boundary: reduces what is staged and waits for every bucket in flight. */
  async flush(): Promise<void> {
    this.inFlight.push(this.start());
    const all = this.inFlight;
    this.inFlight = [];
    await Promise.all(all);
  }

  /** Packs the staged ranges by owner (so staging is free again at once) and reduces them. */
  private start(): Promise<void> {
    if (this.ranges.length === 0) return Promise.resolve();
    const { worldSize: n, rank } = this.packing;
    const plan = this.packing.plan(this.ranges);
    const own = plan.perRank[rank]!;
    this.ranges = [];
    this.used = 0;
    if (!this.pg || n === 1) {
      for (const p of own) addInto(this.grads, p.local, this.staging, p.at, p.len);
      return Promise.resolve();
    }
    const pg = this.pg;
    const m = plan.m;
    const packed = new Float32Array(n * m);
    plan.perRank.forEach((pieces, k) => {
      for (const p of pieces) packed.set(this.staging.subarray(p.at, p.at + p.len), k * m + p.packed);
    });
    const slot = new Float32Array(m);
    this.inFlightBytes += packed.byteLength + slot.byteLength;
    this.peakInFlightBytes = Math.max(this.peakInFlightBytes, this.inFlightBytes);
    const reduce = async (): Promise<void> => {
      if (this.opts.reduceScatter) await sumReduceScatter(pg, packed, slot, this.opts.wire);
      else {
        await sumAllReduce(pg, packed, this.opts.wire);
        slot.set(packed.subarray(rank * m, (rank + 1) * m));
      }
      for (const p of own) addInto(this.grads, p.local, slot, p.packed, p.len);
      this.inFlightBytes -= packed.byteLength + slot.byteLength;
    };
    return reduce();
  }

  /** Bytes of the staging buffer and the most the packed buckets in flight ever held (transient, not model state). */
  get bufferBytes(): number {
    return this.staging.byteLength + this.peakInFlightBytes;
  }
}

function addInto(dst: Float32Array, at: number, src: Float32Array, from: number, len: number): void {
  for (let i = 0; i < len; i++) dst[at + i]! += src[from + i]!;
}
