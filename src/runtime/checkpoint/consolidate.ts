/**
 * The whole float32 training state of a checkpoint of any layout (the job of DeepSpeed's
 * zero_to_fp32.py, and the "universal checkpoint" that lets a run of one layout resume at
 * another). The manifest's rankLayouts say what each rank holds:
 *
 *   ranks with the same (pipe, model) coordinates share one flat buffer (a pipeline stage's
 *   parameters, each a tensor-parallel rank's slice), cut over the data axis as `zero` says:
 *     not sharded:              every data rank holds full [numel] copies; data rank 0's are read
 *     sharded, partition flat:  data rank k holds [S] of [k·S, (k+1)·S); the shards are
 *                               concatenated in data order and cut at numel (the tail is padding)
 *     partition per-parameter:  data rank k holds the k-th ⌈numel/n⌉ piece of every parameter
 *                               (ZeRO-3), put back parameter by parameter
 *   then the flat buffers of all (pipe, model) pairs, in stage order, are put together tensor by
 *   tensor (assemble.ts): tp slices concatenated along their dim, shared parts taken once.
 *
 * A checkpoint written before 3D layouts has no rankLayouts: its ranks are the data axis, with
 * meta.layout and meta.zero for all of them. Every file is checked against the manifest (size,
 * sha256) as loadCheckpoint does.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from '../../errors.ts';
import { assembleFull, type FlatPart, type LayoutEntry } from './assemble.ts';
import type { CheckpointBuffer } from './dtype.ts';
import { loadCheckpoint, readLatest } from './load.ts';
import { MANIFEST, tagDir, type GridCoord, type Manifest, type RankLayout, type SegmentRecord, type ZeroLayout } from './layout.ts';
import { rankLayoutsOf } from './rank_layouts.ts';

export type { ZeroLayout };

export interface ConsolidatedState {
  readonly tag: string;
  readonly meta: Record<string, unknown>;
  /**
   * The whole model's parameters in `params` (the 1-rank run's meta.layout); null for a
   * checkpoint that recorded no layout (saved by saveCheckpoint without one).
   */
  readonly layout: readonly LayoutEntry[] | null;
  /** Float32 parameters [numel] (the fp32 master where weights were stored in half). */
  readonly params: Float32Array;
  /** Optimizer buffers by name (exp_avg, exp_avg_sq, momentum_buffer), each [numel]. */
  readonly optimizer: Record<string, Float32Array>;
  readonly optimizerStep: number;
  readonly step: number;
  /** The world size, grid and stage that saved it. */
  readonly savedWorldSize: number;
  readonly savedGrid: GridCoord;
  readonly savedStage: number;
}

export interface ConsolidateOptions {
  /** Only these parameters, read from only the ranks that hold them (a resuming rank's own); default all. */
  readonly names?: ReadonlySet<string>;
}

export async function consolidateCheckpoint(dir: string, tag?: string, opts: ConsolidateOptions = {}): Promise<ConsolidatedState> {
  const ck = await openCheckpoint(dir, tag);
  const names = opts.names;
  const parts: FlatPart[] = [];
  for (const group of ck.groups) {
    const lead = ck.layouts[group[0]!]!;
    const segments = names ? lead.segments.filter((s) => names.has(s.name)) : lead.segments;
    if (segments.length > 0) parts.push({ where: describe(group[0]!, lead), segments, buffers: await ck.flatBuffers(group) });
  }
  const whole = assembleFull(parts, ['params', ...ck.optimNames], ck.where);
  return ck.state(whole.buffers, ck.named ? whole.layout : null);
}

/** One (pipe, model) pair's flat buffer of a checkpoint: its segments and its buffers [numel], put back from the data axis's shards. */
export interface FlatPartState extends ConsolidatedState {
  readonly segments: readonly SegmentRecord[];
  /** false: a checkpoint saved with no layout (its one segment is the whole unnamed buffer). */
  readonly named: boolean;
}

/** The flat buffer of the ranks at (pipe, model), or null when the checkpoint's grid has no such pair. */
export async function readFlatPart(dir: string, tag: string | undefined, at: { readonly pipe: number; readonly model: number }): Promise<FlatPartState | null> {
  const ck = await openCheckpoint(dir, tag);
  const group = ck.groups.find((g) => ck.layouts[g[0]!]!.coord.pipe === at.pipe && ck.layouts[g[0]!]!.coord.model === at.model);
  if (!group) return null;
  return { ...ck.state(await ck.flatBuffers(group), null), segments: ck.layouts[group[0]!]!.segments, named: ck.named };
}

/** A checkpoint's manifest, rank layouts and rank 0's files, with readers for the other ranks' flat buffers. */
async function openCheckpoint(dir: string, tag: string | undefined) {
  const t = tag ?? (await readLatest(dir));
  // loadCheckpoint checks the tag, the manifest and every byte; it needs the saved world size.
  const first = await loadCheckpoint({ dir, tag: t, rank: 0, worldSize: await savedWorldSize(dir, t) });
  const where = join(tagDir(dir, t), MANIFEST);
  const n = first.manifest.worldSize;
  const { layouts, named } = rankLayoutsOf(first, where);
  const loaded = new Map<number, Record<string, CheckpointBuffer>>([[0, first.files]]);
  const filesOf = async (r: number): Promise<Record<string, CheckpointBuffer>> => {
    let f = loaded.get(r);
    if (!f) loaded.set(r, (f = (await loadCheckpoint({ dir, tag: t, rank: r, worldSize: n })).files));
    return f;
  };
  const masterName = 'optim.fp32_master' in first.files ? 'optim.fp32_master' : 'params';
  const optimNames = Object.keys(first.files).filter((k) => k.startsWith('optim.') && k !== 'optim.fp32_master');

  /** The group's flat buffers [numel] by name ('params', 'optim.*'): data rank 0's copies, or the shards put together. */
  const flatBuffers = async (group: readonly number[]): Promise<Record<string, Float32Array>> => {
    const lead = layouts[group[0]!]!;
    const zero = lead.zero;
    const local = async (name: string, sharded: boolean): Promise<Float32Array> => {
      if (!sharded) {
        const b = (await filesOf(group[0]!))[name];
        if (!(b instanceof Float32Array) || b.length !== zero.numel) throw new FormatError(where, `rank ${group[0]}'s "${name}" is not float32 [${zero.numel}]`);
        return b;
      }
      const shards: Float32Array[] = [];
      for (const r of group) {
        const b = (await filesOf(r))[name];
        if (!(b instanceof Float32Array) || b.length !== zero.shardSize) throw new FormatError(where, `rank ${r}'s "${name}" is not a float32 shard of ${zero.shardSize}`);
        shards.push(b);
      }
      if (zero.partition === 'per-parameter') return unshard(lead.segments, shards, zero.numel);
      const out = new Float32Array(shards.length * zero.shardSize);
      shards.forEach((b, k) => out.set(b, k * zero.shardSize));
      return out.subarray(0, zero.numel);
    };
    const buffers: Record<string, Float32Array> = { params: await local(masterName, zero.sharded.params) };
    for (const k of optimNames) buffers[k] = await local(k, zero.sharded.optimizer);
    return buffers;
  };

  const state = (buffers: Record<string, Float32Array>, layout: readonly LayoutEntry[] | null): ConsolidatedState => {
    const optimizer: Record<string, Float32Array> = {};
    for (const k of optimNames) optimizer[k.slice('optim.'.length)] = buffers[k]!;
    return {
      tag: t,
      meta: first.meta,
      layout,
      params: buffers.params!,
      optimizer,
      optimizerStep: Number(first.meta.optimizer_step ?? 0),
      step: Number(first.meta.step ?? 0),
      savedWorldSize: n,
      savedGrid: layouts[0]!.grid,
      savedStage: layouts[0]!.zero.stage,
    };
  };
  return { where, layouts, named, optimNames, groups: flatGroups(layouts, where), flatBuffers, state };
}

const describe = (r: number, l: RankLayout): string => `rank ${r} (pipe ${l.coord.pipe}, data ${l.coord.data}, model ${l.coord.model})`;

/**
 * The ranks of each flat buffer, in data order: one list per (pipe, model) pair, the pairs in
 * pipeline-stage order, then tensor-parallel order (the 1-rank model's parameter order).
 */
function flatGroups(layouts: readonly RankLayout[], where: string): number[][] {
  const groups = new Map<string, number[]>();
  layouts.forEach((l, r) => {
    const key = `${l.coord.pipe},${l.coord.model}`;
    const g = groups.get(key) ?? [];
    g.push(r);
    groups.set(key, g);
  });
  const out = [...groups.values()].map((g) => g.sort((a, b) => layouts[a]!.coord.data - layouts[b]!.coord.data));
  out.sort((a, b) => layouts[a[0]!]!.coord.pipe - layouts[b[0]!]!.coord.pipe || layouts[a[0]!]!.coord.model - layouts[b[0]!]!.coord.model);
  for (const g of out) {
    const lead = layouts[g[0]!]!;
    const z = lead.zero;
    if (z.worldSize !== g.length) throw new FormatError(where, `${describe(g[0]!, lead)}: its ZeRO group is ${z.worldSize} ranks, the checkpoint has ${g.length} ranks with pipe ${lead.coord.pipe}, model ${lead.coord.model}`);
    for (const r of g.slice(1)) {
      const l = layouts[r]!;
      const sameZero = l.zero.stage === z.stage && l.zero.numel === z.numel && l.zero.shardSize === z.shardSize && (l.zero.partition ?? 'flat') === (z.partition ?? 'flat');
      if (!sameZero || !sameSegments(l.segments, lead.segments)) throw new FormatError(where, `${describe(r, l)} and ${describe(g[0]!, lead)} should hold the same flat buffer (same pipe and model), but their segments or ZeRO layouts differ`);
    }
  }
  return out;
}

/** The same parameters at the same offsets with the same shapes and tp slices. */
export function sameSegments(a: readonly SegmentRecord[], b: readonly SegmentRecord[]): boolean {
  return a.length === b.length && a.every((s, i) => s.name === b[i]!.name && s.offset === b[i]!.offset && s.shape.join() === b[i]!.shape.join() && JSON.stringify(s.slice) === JSON.stringify(b[i]!.slice));
}

async function savedWorldSize(dir: string, tag: string): Promise<number> {
  const file = join(tagDir(dir, tag), MANIFEST);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    // loadCheckpoint names what is missing (the dir, the tag, or an unfinished save).
    return 1;
  }
  try {
    return (JSON.parse(text) as Manifest).worldSize;
  } catch (e) {
    throw new FormatError(file, `is not valid JSON (${(e as Error).message})`);
  }
}

/** The full buffer [numel] from per-parameter shards: rank k's piece of each parameter is its k-th ⌈numel/n⌉ elements. */
function unshard(segments: readonly SegmentRecord[], shards: readonly Float32Array[], numel: number): Float32Array {
  const n = shards.length;
  const out = new Float32Array(numel);
  let local = 0;
  for (const s of segments) {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const chunk = Math.ceil(size / n);
    shards.forEach((shard, k) => {
      const len = Math.max(0, Math.min(chunk, size - k * chunk));
      out.set(shard.subarray(local, local + len), s.offset + k * chunk);
    });
    local += chunk;
  }
  return out;
}
