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
