/**
 * The checkpoint layout on disk (DeepSpeed's: one folder per tag, `latest` names the newest):
 *
 *   dir/latest                       text: the tag of the newest complete checkpoint
 *   dir/<tag>/rank_<r>.<name>.bin    raw little-endian buffer `name` of rank r
 *   dir/<tag>/rank_<r>.files.json    rank r's entries (sizes, sha256), merged by rank 0
 *   dir/<tag>/meta.json              step, lr, seed, loader position, config, layout…
 *   dir/<tag>/manifest.json          written after every rank file: its presence marks the tag complete
 */
import { join } from 'node:path';
import { InputError } from '../../errors.ts';
import type { BufferKind, StorageDtype } from './dtype.ts';
import type { TpSlice } from '../../models/types.ts';

export const FORMAT = 'deepscale-checkpoint';
export const VERSION = 1;

export interface FileEntry {
  /** File name inside the tag folder. */
  readonly file: string;
  /** The kind the buffer is handed back as. */
  readonly kind: BufferKind;
  /** What lies in the file. */
  readonly dtype: StorageDtype;
  /** Elements (not bytes) of the buffer. */
  readonly numel: number;
  readonly bytes: number;
  readonly sha256: string;
}

/** One rank's part, written as rank_<r>.files.json. */
export interface RankFiles {
  readonly rank: number;
  readonly files: Record<string, FileEntry>;
  /** What this rank's buffers hold (absent in checkpoints written before 3D layouts). */
  readonly layout?: RankLayout;
}

/** Sizes of the pipe × data × model grid, or one rank's coordinates in it (src/parallel/topology.ts). */
export interface GridCoord {
  readonly pipe: number;
  readonly data: number;
  readonly model: number;
}

/** A tensor-parallel rank's part of a parameter, as the manifest records it: the model's TpSlice, plain data. */
export type SliceRecord = TpSlice;

/** A parameter in one rank's flat buffer: its local shape at `offset`, and the part of the full tensor it is. */
export interface SegmentRecord {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  /** Absent: the whole parameter. */
  readonly slice?: SliceRecord;
}

/** How a checkpoint's buffers are cut, written into its layout (manifest) and meta.zero by the ZeRO stages. */
export interface ZeroLayout {
  readonly stage: number;
  /** Ranks of the ZeRO (data-parallel) group that cut these buffers. */
  readonly worldSize: number;
  /** Elements of the flat buffer being cut (this pipeline stage's and tensor-parallel rank's part of the model). */
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

/**
 * What one rank's buffers are, so that any (pipe, data, model) × ZeRO layout can be put back
 * together: ranks with the same pipe and model coordinates hold one flat buffer (`segments`),
 * cut over the data axis as `zero` says; the flat buffers of all (pipe, model) pairs together
 * hold every parameter of the model (consolidate.ts).
 */
export interface RankLayout {
  readonly grid: GridCoord;
  readonly coord: GridCoord;
  readonly segments: readonly SegmentRecord[];
  readonly zero: ZeroLayout;
}

export interface Manifest {
  readonly format: typeof FORMAT;
  readonly version: number;
  readonly tag: string;
  readonly worldSize: number;
  /** ms since epoch, when rank 0 finished the manifest: the order of `listCheckpoints`. */
  readonly createdAt: number;
  /** `meta.layout` copied here (segments, ZeRO stage…) so a reader needs no meta to reshard. */
  readonly layout: unknown;
  readonly meta: { readonly file: string; readonly bytes: number; readonly sha256: string };
  /** ranks[r][name] */
  readonly ranks: readonly Record<string, FileEntry>[];
  /** rankLayouts[r]: what rank r's buffers hold (absent in checkpoints written before 3D layouts). */
  readonly rankLayouts?: readonly RankLayout[];
}

export const LATEST = 'latest';
export const MANIFEST = 'manifest.json';
export const META = 'meta.json';

export const tagDir = (dir: string, tag: string): string => join(dir, tag);
export const rankFileName = (rank: number, name: string): string => `rank_${rank}.${name}.bin`;
export const rankIndexName = (rank: number): string => `rank_${rank}.files.json`;

const TAG_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function checkTag(tag: string, where: string): void {
  if (!TAG_RE.test(tag) || tag === LATEST) {
    throw new InputError(`${where}: tag ${JSON.stringify(tag)} is not a valid checkpoint tag (letters, digits, '.', '_', '-'; not "latest")`);
  }
}

export function checkBufferName(name: string, where: string): void {
  if (!NAME_RE.test(name)) {
    throw new InputError(`${where}: buffer name ${JSON.stringify(name)} is not valid (letters, digits, '.', '_', '-')`);
  }
}
