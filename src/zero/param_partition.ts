/**
 * ZeRO-3's partition, as DeepSpeed cuts stage 3: every parameter is split into worldSize
 * pieces of c = ⌈numel / n⌉ elements, and rank r's shard is the r-th piece of every parameter,
 * one after the other. Gathering a layer (or reducing a bucket of its gradients) then moves the
 * same number of elements to and from every rank: the collectives' slots need no padding.
 *
 *   q_proj [numel 10, n 2, c 5]:  | e0 … e4 | e5 … e9 |     rank 0 holds e0…e4, rank 1 e5…e9
 *   shard r:  | q_proj piece r | k_proj piece r | … |       (a last piece may be short: zero tail)
 *
 * Checkpoints record it as partition 'per-parameter'; runtime/checkpoint/consolidate.ts puts
 * the pieces back.
 */
import type { ParamSegment } from '../runtime/engine/flat_params.ts';
import type { ParamRange } from '../runtime/optim/types.ts';
import type { Packing, Piece } from './partition.ts';

interface Place {
  readonly seg: ParamSegment;
  /** Piece length c. */
  readonly chunk: number;
  /** Where this parameter's piece starts in every rank's shard. */
  readonly local: number;
}

export class ParamPartition implements Packing {
  readonly shardSize: number;
  private readonly places = new Map<number, Place>();

  constructor(readonly segments: readonly ParamSegment[], readonly worldSize: number, readonly rank: number) {
    let local = 0;
    for (const seg of segments) {
      const chunk = Math.ceil(seg.numel / worldSize);
      this.places.set(seg.offset, { seg, chunk, local });
      local += chunk;
    }
    this.shardSize = local;
  }

  /** Elements of rank k's piece of a parameter (the last pieces may be short or empty). */
  private valid(p: Place, k: number): number {
    return Math.max(0, Math.min(p.chunk, p.seg.numel - k * p.chunk));
  }

  private place(flat: number): Place {
    const p = this.places.get(flat);
    if (!p) throw new Error(`ParamPartition: no parameter starts at flat offset ${flat}`);
    return p;
  }

  /** The parameters as ranges of this rank's shard, for the optimizer (decay per parameter). */
  localSegments(): ParamRange[] {
    return [...this.places.values()].map((p) => ({ name: p.seg.name, offset: p.local, numel: this.valid(p, this.rank) }));
  }

  /**
   * The packing of whole parameters (by flat offset) whose full values sit at `at` in a local
   * buffer: slot k holds rank k's piece of each, at the same place in every slot.
   */
  plan(ranges: readonly { readonly flat: number; readonly at: number }[]): { m: number; perRank: Piece[][] } {
    const perRank: Piece[][] = Array.from({ length: this.worldSize }, () => []);
    let packed = 0;
    for (const r of ranges) {
      const p = this.place(r.flat);
      for (let k = 0; k < this.worldSize; k++) {
        const len = this.valid(p, k);
        if (len > 0) perRank[k]!.push({ at: r.at + k * p.chunk, local: p.local, len, packed });
      }
      packed += p.chunk;
    }
    return { m: packed, perRank };
  }

  /** This rank's shard [S] of a full flat buffer [numel]. */
  shardOf(full: Float32Array, into: Float32Array = new Float32Array(this.shardSize)): Float32Array {
    into.fill(0);
    for (const p of this.places.values()) {
      const from = p.seg.offset + this.rank * p.chunk;
      into.set(full.subarray(from, from + this.valid(p, this.rank)), p.local);
    }
    return into;
  }
}
