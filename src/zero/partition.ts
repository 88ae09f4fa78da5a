/**
 * Shard arithmetic. The flat buffer of `padded` elements (a multiple of the world size n) is
 * cut into n shards of S = padded / n; rank r owns [r·S, (r+1)·S):
 *
 *   flat:  | embed ........ | norm | q_proj ......... | … | lm_head ...... | pad |
 *          [ shard 0       )[ shard 1                   )[ shard 2              )
 *
 * A parameter may cross a shard boundary; a collective on a set of parameter ranges packs, for
 * each rank k, the pieces that lie in shard k (`packPlan`). Every rank builds the same plan from
 * the same ranges, so the packed buffers line up across ranks.
 */
import { assert } from '../errors.ts';
import type { ParamRange } from '../runtime/optim/types.ts';

export class Partition {
  readonly shardSize: number;
  /** This rank's shard: [lo, hi) of the flat buffer. */
  readonly lo: number;
  readonly hi: number;

  constructor(readonly padded: number, readonly worldSize: number, readonly rank: number) {
    assert(padded % worldSize === 0, () => `Partition: padded length ${padded} is not a multiple of the world size ${worldSize}`);
    this.shardSize = padded / worldSize;
    this.lo = rank * this.shardSize;
    this.hi = this.lo + this.shardSize;
  }

  /** Segments as ranges of this rank's shard (offsets relative to lo; the optimizer clips them to [0, S)). */
  localSegments(segments: readonly ParamRange[]): ParamRange[] {
    return segments.filter((s) => s.offset < this.hi && s.offset + s.numel > this.lo).map((s) => ({ name: s.name, offset: s.offset - this.lo, numel: s.numel }));
  }
}

/** A flat range [flat, flat + len) whose values sit at `at` in some local buffer (a bucket, a layer's gather buffer). */
export interface StagedRange {
  readonly flat: number;
  readonly len: number;
  readonly at: number;
}

/** One piece of a packed buffer: `len` values at `at` locally, `local` inside the owner's shard, `packed` in its slot. */
export interface Piece {
  readonly at: number;
  readonly local: number;
  readonly len: number;
  readonly packed: number;
}

/**
 * The packing of ranges by owner: perRank[k] lists the pieces inside shard k, at consecutive
 * positions of slot k; every slot has m elements (the longest, others zero-padded), as
 * reduceScatter and allGather want ([n·m] in, [m] out and back).
 */
export function packPlan(ranges: readonly StagedRange[], shardSize: number, worldSize: number): { m: number; perRank: Piece[][] } {
  const perRank: Piece[][] = Array.from({ length: worldSize }, () => []);
  const used = new Array<number>(worldSize).fill(0);
  for (const r of ranges) {
    let a = r.flat;
    const end = r.flat + r.len;
    while (a < end) {
      const k = Math.floor(a / shardSize);
      const b = Math.min(end, (k + 1) * shardSize);
      perRank[k]!.push({ at: r.at + (a - r.flat), local: a - k * shardSize, len: b - a, packed: used[k]! });
      used[k]! += b - a;
      a = b;
    }
  }
  return { m: Math.max(0, ...used), perRank };
}

/** How a collective's ranges are packed into per-rank slots: by flat shard (stages 1-2) or per parameter (stage 3, param_partition.ts). */
export interface Packing {
  readonly worldSize: number;
  readonly rank: number;
  plan(ranges: readonly StagedRange[]): { m: number; perRank: Piece[][] };
}

/** The flat partition's packing (slots padded to the longest). */
export function flatPacking(part: Partition): Packing {
  return { worldSize: part.worldSize, rank: part.rank, plan: (ranges) => packPlan(ranges, part.shardSize, part.worldSize) };
}
