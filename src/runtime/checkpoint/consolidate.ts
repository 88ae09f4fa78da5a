/**
 * The whole float32 training state of a checkpoint of any world size and any ZeRO stage (the
 * job of DeepSpeed's zero_to_fp32.py, and the "universal checkpoint" that lets a run of world
 * size N resume at world size M). meta.zero says how the buffers are cut:
 *
 *   absent or sharded false: every rank holds full [numel] copies; rank 0's are read
 *   sharded, partition flat: rank k holds [S] of [k·S, (k+1)·S); the shards are concatenated
 *                            in rank order and cut at numel (the tail is padding)
 *   partition per-parameter: rank k holds the k-th ⌈numel/n⌉ piece of every parameter (ZeRO-3),
 *                            put back parameter by parameter along meta.layout
 *
 * Every file is checked against the manifest (size, sha256) as loadCheckpoint does.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from '../../errors.ts';
import { loadCheckpoint, readLatest } from './load.ts';
import { MANIFEST, tagDir, type Manifest } from './layout.ts';

/** How a checkpoint's buffers are cut, written into its layout (manifest) and meta.zero by the ZeRO stages. */
export interface ZeroLayout {
  readonly stage: number;
  readonly worldSize: number;
  readonly numel: number;
  /** Shard length S; each rank's `params` / optimizer buffers are [S] when `sharded`. */
  readonly shardSize: number;
  /** Which buffers are per-rank shards (the rest are full [numel] copies on every rank). */
  readonly sharded: { readonly params: boolean; readonly optimizer: boolean };
  /**
   * How shards are cut: 'flat' (rank r holds [r·S, (r+1)·S) of the flat buffer, stages 1-2) or
   * 'per-parameter' (rank r holds the r-th ⌈numel/n⌉ piece of every parameter, stage 3). Absent: flat.
   */
  readonly partition?: 'flat' | 'per-parameter';
}

export interface ConsolidatedState {
  readonly tag: string;
  readonly meta: Record<string, unknown>;
  /** Float32 parameters [numel] (the fp32 master where weights were stored in half). */
  readonly params: Float32Array;
  /** Optimizer buffers by name (exp_avg, exp_avg_sq, momentum_buffer), each [numel]. */
  readonly optimizer: Record<string, Float32Array>;
  readonly optimizerStep: number;
  readonly step: number;
  /** The world size and stage that saved it. */
  readonly savedWorldSize: number;
  readonly savedStage: number;
}

export async function consolidateCheckpoint(dir: string, tag?: string): Promise<ConsolidatedState> {
  const t = tag ?? (await readLatest(dir));
  // loadCheckpoint checks the tag, the manifest and every byte; it needs the saved world size.
  const first = await loadCheckpoint({ dir, tag: t, rank: 0, worldSize: await savedWorldSize(dir, t) });
  const where = join(tagDir(dir, t), MANIFEST);
  const n = first.manifest.worldSize;
  const zero = first.meta.zero as ZeroLayout | undefined;
  const ranks = [first.files];
  if (zero && (zero.sharded.params || zero.sharded.optimizer)) {
    if (zero.worldSize !== n) throw new FormatError(where, `meta.zero.worldSize ${zero.worldSize} differs from the manifest's ${n}`);
    for (let k = 1; k < n; k++) ranks.push((await loadCheckpoint({ dir, tag: t, rank: k, worldSize: n })).files);
  }
  const numelOf = (): number => {
    if (zero) return zero.numel;
    const p = first.files.params;
    if (!(p instanceof Float32Array)) throw new FormatError(where, 'rank 0 has no float32 "params" buffer');
    return p.length;
  };
  const numel = numelOf();

  const full = (name: string, sharded: boolean): Float32Array => {
    if (!sharded) {
      const b = first.files[name];
      if (!(b instanceof Float32Array) || b.length !== numel) throw new FormatError(where, `rank 0's "${name}" is not float32 [${numel}]`);
      return b;
    }
    const shards = ranks.map((files, k) => {
      const b = files[name];
      if (!(b instanceof Float32Array) || b.length !== zero!.shardSize) throw new FormatError(where, `rank ${k}'s "${name}" is not a float32 shard of ${zero!.shardSize}`);
      return b;
    });
    if (zero!.partition === 'per-parameter') return unshard(layoutSegments(first.meta.layout, where), shards, numel);
    const out = new Float32Array(n * zero!.shardSize);
    shards.forEach((b, k) => out.set(b, k * zero!.shardSize));
    return out.subarray(0, numel);
  };

  const masterName = 'optim.fp32_master' in first.files ? 'optim.fp32_master' : 'params';
  const params = full(masterName, zero?.sharded.params ?? false);
  const optimizer: Record<string, Float32Array> = {};
  for (const k of Object.keys(first.files)) {
    if (k.startsWith('optim.') && k !== 'optim.fp32_master') optimizer[k.slice('optim.'.length)] = full(k, zero?.sharded.optimizer ?? false);
  }
  return {
    tag: t,
    meta: first.meta,
    params,
    optimizer,
    optimizerStep: Number(first.meta.optimizer_step ?? 0),
    step: Number(first.meta.step ?? 0),
    savedWorldSize: n,
    savedStage: zero?.stage ?? 0,
  };
}

/** meta.layout's parameters as flat ranges, in order. */
function layoutSegments(layout: unknown, where: string): { offset: number; numel: number }[] {
  if (!Array.isArray(layout)) throw new FormatError(where, 'meta.layout is missing: a per-parameter (ZeRO-3) checkpoint needs it to put its pieces back');
  return (layout as { shape: number[]; offset: number }[]).map((e) => ({ offset: e.offset, numel: e.shape.reduce((a, b) => a * b, 1) }));
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
function unshard(segments: readonly { readonly offset: number; readonly numel: number }[], shards: readonly Float32Array[], numel: number): Float32Array {
  const n = shards.length;
  const out = new Float32Array(numel);
  let local = 0;
  for (const s of segments) {
    const chunk = Math.ceil(s.numel / n);
    shards.forEach((shard, k) => {
      const len = Math.max(0, Math.min(chunk, s.numel - k * chunk));
      out.set(shard.subarray(local, local + len), s.offset + k * chunk);
    });
    local += chunk;
  }
  return out;
}
