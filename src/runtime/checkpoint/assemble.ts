/**
 * The model's full tensors from the parts ranks hold, and a rank's parts cut back out of them.
 * A part is the whole tensor, or [start, end) along `dim` of it (a tensor-parallel slice); the
 * sliced parts of one tensor tile its length along `dim`:
 *
 *   q_proj [8, 4] on dim 0, 2 tp ranks:   rows 0-3 ← rank 0, rows 4-7 ← rank 1
 *   o_proj [4, 8] on dim 1, 2 tp ranks:   full[r, 0:4] ← rank 0, full[r, 4:8] ← rank 1, every row r
 *
 * A part several ranks hold (a replicated norm, replicated kv heads, the tied embedding on the
 * first and the last pipeline stage) is taken once, from the first rank that holds it.
 */
import { FormatError } from '../../errors.ts';
import type { SegmentRecord, SliceRecord } from './layout.ts';

/** A parameter's place in the whole model's flat buffer (what the 1-rank run's meta.layout lists). */
export interface LayoutEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
}

/** One flat buffer of parameters (one pipeline stage × tensor-parallel rank) and its buffers by name, each [≥ numel]. */
export interface FlatPart {
  /** For messages: "rank 3 (pipe 1, data 0, model 1)". */
  readonly where: string;
  readonly segments: readonly SegmentRecord[];
  readonly buffers: Readonly<Record<string, Float32Array>>;
}

const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);
const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** [outer, F, inner] around `dim` of `shape`: the tensor as outer rows of F blocks of `inner` values. */
function around(shape: readonly number[], dim: number): { outer: number; F: number; inner: number } {
  return { outer: prod(shape.slice(0, dim)), F: shape[dim]!, inner: prod(shape.slice(dim + 1)) };
}

/** Copies `part` (the [start, end) slice along `dim`) into its place in `full` (of `fullShape`). */
export function placeSlice(full: Float32Array, fullShape: readonly number[], s: Pick<SliceRecord, 'dim' | 'start' | 'end'>, part: Float32Array): void {
  const { outer, F, inner } = around(fullShape, s.dim);
  const run = (s.end - s.start) * inner;
  for (let o = 0; o < outer; o++) full.set(part.subarray(o * run, (o + 1) * run), (o * F + s.start) * inner);
}

/** The [start, end) slice along `dim` of `full` (of `fullShape`), into `out`. */
export function cutSlice(full: Float32Array, fullShape: readonly number[], s: Pick<SliceRecord, 'dim' | 'start' | 'end'>, out: Float32Array): void {
  const { outer, F, inner } = around(fullShape, s.dim);
  const run = (s.end - s.start) * inner;
  for (let o = 0; o < outer; o++) out.set(full.subarray((o * F + s.start) * inner, (o * F + s.end) * inner), o * run);
}

/** The local shape a slice must have: the full shape with `end - start` along `dim`. */
export function sliceShape(s: SliceRecord): number[] {
  return s.fullShape.map((d, i) => (i === s.dim ? s.end - s.start : d));
}

interface Piece {
  readonly part: FlatPart;
  readonly seg: SegmentRecord;
  /** null: the whole tensor. */
  readonly slice: SliceRecord | null;
}

/** Per parameter, in order of first appearance: its full shape and the pieces to copy (one per distinct part). */
function plan(parts: readonly FlatPart[], where: string): Map<string, { fullShape: readonly number[]; pieces: Piece[] }> {
  const out = new Map<string, { fullShape: readonly number[]; pieces: Piece[] }>();
  for (const part of parts) {
    for (const seg of part.segments) {
      const slice = seg.slice ?? null;
      const fullShape = slice ? slice.fullShape : seg.shape;
      if (slice) {
        const ok = Number.isInteger(slice.dim) && slice.dim >= 0 && slice.dim < fullShape.length && Number.isInteger(slice.start) && slice.start >= 0 && slice.end > slice.start && slice.end <= fullShape[slice.dim]!;
        if (!ok) throw new FormatError(where, `${part.where}: "${seg.name}" has slice [${slice.start}, ${slice.end}) on dim ${slice.dim}, outside its full shape [${fullShape}]`);
        if (!same(seg.shape, sliceShape(slice))) throw new FormatError(where, `${part.where}: "${seg.name}" is [${seg.shape}], but its slice [${slice.start}, ${slice.end}) on dim ${slice.dim} of [${fullShape}] is [${sliceShape(slice)}]`);
      }
      const e = out.get(seg.name);
      if (!e) {
        out.set(seg.name, { fullShape, pieces: [{ part, seg, slice }] });
        continue;
      }
      if (!same(e.fullShape, fullShape)) throw new FormatError(where, `"${seg.name}" is [${e.fullShape}] on ${e.pieces[0]!.part.where} but [${fullShape}] on ${part.where}`);
      const dup = e.pieces.some((p) => (p.slice === null && slice === null) || (p.slice && slice && p.slice.dim === slice.dim && p.slice.start === slice.start && p.slice.end === slice.end));
      if (!dup) e.pieces.push({ part, seg, slice });
    }
  }
  for (const [name, e] of out) {
    // A whole copy wins over slices (a stage that holds it whole beside tp ranks that cut it).
    const whole = e.pieces.find((p) => p.slice === null);
    if (whole) {
      e.pieces = [whole];
      continue;
    }
    const dim = e.pieces[0]!.slice!.dim;
    const bad = e.pieces.find((p) => p.slice!.dim !== dim);
    if (bad) throw new FormatError(where, `"${name}" is cut on dim ${dim} on ${e.pieces[0]!.part.where} but on dim ${bad.slice!.dim} on ${bad.part.where}`);
    e.pieces.sort((a, b) => a.slice!.start - b.slice!.start);
    let at = 0;
    for (const p of e.pieces) {
      if (p.slice!.start !== at) {
        const what = p.slice!.start > at ? `nothing holds [${at}, ${p.slice!.start})` : `[${p.slice!.start}, ${p.slice!.end}) on ${p.part.where} overlaps [.., ${at})`;
        throw new FormatError(where, `the parts of "${name}" along dim ${dim} (length ${e.fullShape[dim]}) do not tile it: ${what}`);
      }
      at = p.slice!.end;
    }
    if (at !== e.fullShape[dim]) throw new FormatError(where, `the parts of "${name}" along dim ${dim} end at ${at}; nothing holds [${at}, ${e.fullShape[dim]})`);
  }
  return out;
}

/**
 * The whole model from its parts: the layout (parameters in order of first appearance over
 * `parts`, so parts given in pipeline-stage order give the 1-rank order) and, for each buffer
 * name, the full buffer [numel] in that layout.
 */
export function assembleFull(parts: readonly FlatPart[], bufferNames: readonly string[], where: string): { layout: LayoutEntry[]; buffers: Record<string, Float32Array> } {
  const p = plan(parts, where);
  const layout: LayoutEntry[] = [];
  let offset = 0;
  for (const [name, e] of p) {
    layout.push({ name, shape: [...e.fullShape], offset });
    offset += prod(e.fullShape);
  }
  const buffers: Record<string, Float32Array> = {};
  for (const b of bufferNames) {
    const out = new Float32Array(offset);
    layout.forEach((entry) => {
      for (const { part, seg, slice } of p.get(entry.name)!.pieces) {
        const src = part.buffers[b];
        const n = prod(seg.shape);
        if (!src || src.length < seg.offset + n) throw new FormatError(where, `${part.where}: buffer "${b}" ${src ? `has ${src.length} values` : 'is missing'}; "${seg.name}" needs [${seg.offset}, ${seg.offset + n})`);
        const local = src.subarray(seg.offset, seg.offset + n);
        if (slice) placeSlice(out.subarray(entry.offset, entry.offset + prod(entry.shape)), entry.shape, slice, local);
        else out.set(local, entry.offset);
      }
    });
    buffers[b] = out;
  }
  return { layout, buffers };
}

/**
 * One flat buffer [numel] of a rank's segments, cut from a full buffer in `layout`. `missing`
 * says what is wrong when the checkpoint's model does not hold a segment as this rank needs it.
 */
export function cutLocal(
  layout: readonly LayoutEntry[], full: Float32Array, segments: readonly SegmentRecord[], numel: number, mismatch: (why: string) => never,
): Float32Array {
  const byName = new Map(layout.map((e) => [e.name, e]));
  const out = new Float32Array(numel);
  for (const seg of segments) {
    const e = byName.get(seg.name);
    if (!e) mismatch(`it has no parameter "${seg.name}"`);
    const fullShape = seg.slice ? seg.slice.fullShape : seg.shape;
    if (!same(e.shape, fullShape)) mismatch(`it holds "${seg.name}" as [${e.shape}], this model's is [${fullShape}]`);
    const src = full.subarray(e.offset, e.offset + prod(e.shape));
    const dst = out.subarray(seg.offset, seg.offset + prod(seg.shape));
    if (seg.slice) cutSlice(src, e.shape, seg.slice, dst);
    else dst.set(src);
  }
  return out;
}
