/**
 * What each rank of a checkpoint holds (layout.ts RankLayout), read from the manifest and
 * checked: one grid for all, every coordinate inside it and taken once. A checkpoint written
 * before 3D layouts has none recorded; its ranks are then the data axis of a 1 × n × 1 grid, all
 * holding meta.layout's segments cut as meta.zero says.
 */
import { FormatError } from '../../errors.ts';
import type { LoadedCheckpoint } from './load.ts';
import type { GridCoord, RankLayout, SegmentRecord, ZeroLayout } from './layout.ts';

/** `named`: the segments carry parameter names (false for a checkpoint saved with no meta.layout). */
export function rankLayoutsOf(first: LoadedCheckpoint, where: string): { layouts: RankLayout[]; named: boolean } {
  const n = first.manifest.worldSize;
  const recorded = first.manifest.rankLayouts;
  if (recorded === undefined) return legacy(first, n, where);
  if (!Array.isArray(recorded) || recorded.length !== n) throw new FormatError(where, `rankLayouts lists ${Array.isArray(recorded) ? recorded.length : 'no'} ranks, the world size is ${n}`);
  const grid = recorded[0]!.grid;
  if (!isCoord(grid) || grid.pipe * grid.data * grid.model !== n) throw new FormatError(where, `rankLayouts[0].grid ${JSON.stringify(grid)} is not a pipe × data × model grid of ${n} ranks`);
  const seen = new Set<string>();
  recorded.forEach((l, r) => {
    const c = l?.coord;
    if (!l || !isCoord(l.grid) || l.grid.pipe !== grid.pipe || l.grid.data !== grid.data || l.grid.model !== grid.model)
      throw new FormatError(where, `rankLayouts[${r}].grid ${JSON.stringify(l?.grid)} differs from rank 0's ${JSON.stringify(grid)}`);
    if (!isCoord(c) || c.pipe >= grid.pipe || c.data >= grid.data || c.model >= grid.model)
      throw new FormatError(where, `rankLayouts[${r}].coord ${JSON.stringify(c)} lies outside the grid ${JSON.stringify(grid)}`);
    const key = `${c.pipe},${c.data},${c.model}`;
    if (seen.has(key)) throw new FormatError(where, `rankLayouts[${r}].coord ${JSON.stringify(c)} is listed by two ranks`);
    seen.add(key);
    if (!Array.isArray(l.segments) || !isZero(l.zero)) throw new FormatError(where, `rankLayouts[${r}] has no segments or ZeRO layout`);
    const end = Math.max(0, ...(l.segments as readonly SegmentRecord[]).map((e) => e.offset + e.shape.reduce((x, y) => x * y, 1)));
    if (end > l.zero.numel) throw new FormatError(where, `rank ${r}'s parameters are ${l.zero.numel} values, its segments reach ${end}`);
  });
  return { layouts: [...recorded], named: true };
}

function legacy(first: LoadedCheckpoint, n: number, where: string): { layouts: RankLayout[]; named: boolean } {
  const meta = first.meta;
  const p = first.files.params;
  const zero: ZeroLayout = isZero(meta.zero)
    ? meta.zero
    : (() => {
        if (!(p instanceof Float32Array)) throw new FormatError(where, 'rank 0 has no float32 "params" buffer');
        return { stage: 0, worldSize: n, numel: p.length, shardSize: p.length, sharded: { params: false, optimizer: false } };
      })();
  if (zero.worldSize !== n) throw new FormatError(where, `meta.zero.worldSize ${zero.worldSize} differs from the manifest's ${n}`);
  const named = Array.isArray(meta.layout);
  if (!named && zero.partition === 'per-parameter') throw new FormatError(where, 'meta.layout is missing: a per-parameter (ZeRO-3) checkpoint needs it to put its pieces back');
  const segments: SegmentRecord[] = named
    ? (meta.layout as { name: string; shape: number[]; offset: number }[]).map((e) => ({ name: e.name, shape: e.shape, offset: e.offset }))
    : [{ name: 'params', shape: [zero.numel], offset: 0 }];
  const total = segments.reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1), 0);
  if (total !== zero.numel) throw new FormatError(where, `the checkpoint's parameters are ${zero.numel} values, meta.layout lists ${total}`);
  const grid = { pipe: 1, data: n, model: 1 };
  return { layouts: Array.from({ length: n }, (_, r) => ({ grid, coord: { pipe: 0, data: r, model: 0 }, segments, zero })), named };
}

const isCoord = (c: unknown): c is GridCoord => {
  const o = c as GridCoord | null;
  return !!o && [o.pipe, o.data, o.model].every((x) => Number.isInteger(x) && x >= 0);
};

const isZero = (z: unknown): z is ZeroLayout => {
  const o = z as ZeroLayout | null;
  return !!o && typeof o === 'object' && Number.isInteger(o.worldSize) && Number.isInteger(o.numel) && Number.isInteger(o.shardSize) && typeof o.sharded === 'object';
};
