/**
 * The global gradient norm when one model replica spans several ranks (pipeline stages,
 * tensor-parallel ranks). Each rank sums the squares of the gradients it holds, counting a part
 * that several ranks hold once; the data-parallel sum of those partial sums is then added over
 * the model-parallel group (every rank with this data coordinate: tp × pp of them):
 *
 *   ‖g‖² = Σ_{model-parallel ranks} Σ_{data-parallel shards} Σ_{counted segments} g²
 *
 * Every rank ends with the same norm, so all of them clip by the same factor and agree on overflow.
 */
import type { ProcessGroup } from '../runtime/comm/index.ts';
import type { FlatParams, ParamSegment } from '../runtime/engine/flat_params.ts';
import type { ParamRange } from '../runtime/optim/types.ts';
import { sumSquares } from '../runtime/optim/clip.ts';
import { sumScalarAcross } from './context.ts';

/** What a ZeRO stage needs to add its norm to the other model-parallel ranks' (ZeroPlace.modelParallel). */
export interface ModelParallelNorm {
  /** The ranks holding the other parts of this model replica (same data coordinate), this one included. */
  readonly pg: ProcessGroup;
  /** Whether this rank's copy of a parameter counts in the norm (one rank per shared part). */
  readonly counts: (seg: ParamSegment) => boolean;
}

/**
 * Counts each part once over the model-parallel group: a tensor-parallel part on the first tp
 * rank that holds it (slice.sharedBy[0]; a split part is held by its rank alone), and not at all
 * a parameter that an earlier pipeline stage also holds (the tied embedding, on the last stage).
 */
export function countOnce(o: { readonly tpRank: number; readonly heldEarlier: ReadonlySet<string> }): (seg: ParamSegment) => boolean {
  return (seg) => !o.heldEarlier.has(seg.name) && (seg.slice === undefined || seg.slice.sharedBy[0] === o.tpRank);
}

/** A [from, to) range of a rank's local gradient buffer. */
interface Range {
  readonly from: number;
  readonly to: number;
}

/** How a stage's endStep turns its local sum of squares into the global one. */
export interface NormPlan {
  /** The local ranges that count (null: the whole buffer). */
  readonly counted: readonly Range[] | null;
  /** Adds the data-parallel sum over the model-parallel group (null: this rank's data group holds the whole model). */
  readonly acrossModel: ((x: number) => Promise<number>) | null;
}

/**
 * The plan for a local gradient buffer of `len` elements whose parameters sit at `segments`
 * (local ranges, possibly reaching outside [0, len) where a parameter crosses a shard edge).
 */
export function normPlan(mp: ModelParallelNorm | undefined, flat: FlatParams, segments: readonly ParamRange[], len: number): NormPlan {
  if (!mp) return { counted: null, acrossModel: null };
  const acrossModel = (x: number): Promise<number> => sumScalarAcross(mp.pg, x);
  if (flat.segments.every(mp.counts)) return { counted: null, acrossModel };
  const counted = segments
    .filter((s) => mp.counts(flat.segment(s.name)))
    .map((s) => ({ from: Math.max(0, s.offset), to: Math.min(len, s.offset + s.numel) }))
    .filter((r) => r.to > r.from);
  return { counted, acrossModel };
}

/** Σ g² over the counted ranges of `grads` (all of it when `counted` is null), in float64. */
export function countedSumSquares(grads: Float32Array, counted: readonly Range[] | null): number {
  if (!counted) return sumSquares(grads);
  let s = 0;
  for (const r of counted) s += sumSquares(grads, r.from, r.to);
  return s;
}

/**
 * The hook for a rank of a model replica: `pg` over the replica's ranks (every pipeline stage and
 * tp rank with this data coordinate), counting as countOnce does; `earlierLayers` are the layers
 * of the pipeline stages before this rank's (none on the first stage or without pipelining).
 */
export function modelParallelNorm(pg: ProcessGroup, o: { readonly tpRank: number; readonly earlierLayers: readonly { readonly params: readonly { readonly name: string }[] }[] }): ModelParallelNorm {
  const heldEarlier = new Set(o.earlierLayers.flatMap((l) => l.params.map((p) => p.name)));
  return { pg, counts: countOnce({ tpRank: o.tpRank, heldEarlier }) };
}
