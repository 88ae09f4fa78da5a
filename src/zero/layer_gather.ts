/**
 * ZeRO-3's parameter gather: the full values of a set of parameters from every rank's shard,
 * in one all-gather. Each rank packs the pieces of the set that lie in its shard into its slot
 * (Packing), the all-gather delivers every slot, and the pieces are unpacked into one buffer
 * that holds the set contiguously (`view(buf, name)` is the parameter's values). The buffer is
 * fresh per gather and lives as long as its caller keeps it: one layer at a time.
 *
 *   shards → | own pieces | pad |  all-gather  | slot 0 | slot 1 | … |  unpack → | q_proj | k_proj | … |
 */
import type { ProcessGroup } from '../runtime/comm/index.ts';
import type { ParamSegment } from '../runtime/engine/flat_params.ts';
import type { Packing, Piece } from './partition.ts';

export class ParamGather {
  /** Σ numel of the set. */
  readonly numel: number;
  private readonly at = new Map<string, number>();
  private readonly m: number;
  private readonly perRank: Piece[][];

  constructor(readonly segments: readonly ParamSegment[], private readonly packing: Packing) {
    let at = 0;
    const ranges = [];
    for (const s of segments) {
      this.at.set(s.name, at);
      ranges.push({ flat: s.offset, len: s.numel, at });
      at += s.numel;
    }
    this.numel = at;
    const plan = packing.plan(ranges);
    this.m = plan.m;
    this.perRank = plan.perRank;
  }

  /** A parameter's values inside a buffer `gather` filled. */
  view(buf: Float32Array, name: string): Float32Array {
    const at = this.at.get(name)!;
    return buf.subarray(at, at + this.segments.find((s) => s.name === name)!.numel);
  }

  /** The set's values [numel] from every rank's shard (collective when pg is given; every rank calls it with the same set). */
  async gather(pg: ProcessGroup | null, own: Float32Array, into: Float32Array = new Float32Array(this.numel)): Promise<Float32Array> {
    const { worldSize: n, rank } = this.packing;
    if (!pg || n === 1) {
      for (const p of this.perRank[rank]!) into.set(own.subarray(p.local, p.local + p.len), p.at);
      return into;
    }
    const m = this.m;
    const input = new Float32Array(m);
    for (const p of this.perRank[rank]!) input.set(own.subarray(p.local, p.local + p.len), p.packed);
    const out = new Float32Array(n * m);
    await pg.allGather(input, out);
    this.perRank.forEach((pieces, k) => {
      for (const p of pieces) into.set(out.subarray(k * m + p.packed, k * m + p.packed + p.len), p.at);
    });
    return into;
  }

  /** Bytes one gather holds while it lives: the values and the packing slots. */
  get bytes(): number {
    return 4 * (this.numel + this.m * (this.packing.worldSize + 1));
  }
}
