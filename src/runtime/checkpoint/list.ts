/** Listing the tags of a checkpoint directory, and pruning old ones. */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../../errors.ts';
import { TMP_MARK } from './atomic.ts';
import { LATEST, MANIFEST, META, type Manifest } from './layout.ts';

export interface CheckpointInfo {
  readonly tag: string;
  readonly path: string;
  /** manifest.json is there: every rank's files were written. */
  readonly complete: boolean;
  /** dir/latest names this tag. */
  readonly latest: boolean;
  /** meta.step when meta.json has one. */
  readonly step: number | null;
  /** The manifest's time for complete tags, the folder's mtime otherwise (ms since epoch). */
  readonly time: number;
}

/** Every tag folder, oldest first: complete tags by manifest time, then incomplete ones. A missing dir gives []. */
export async function listCheckpoints(dir: string): Promise<CheckpointInfo[]> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const latest = await readFile(join(dir, LATEST), 'utf8').then((s) => s.trim(), () => null);
  const out: CheckpointInfo[] = [];
  for (const tag of names) {
    const path = join(dir, tag);
    const manifest = await readJson<Manifest>(join(path, MANIFEST));
    const meta = await readJson<{ step?: unknown }>(join(path, META));
    const time = manifest && typeof manifest.createdAt === 'number' ? manifest.createdAt : (await stat(path)).mtimeMs;
    out.push({ tag, path, complete: manifest !== null, latest: tag === latest, step: typeof meta?.step === 'number' ? meta.step : null, time });
  }
  return out.sort((a, b) => Number(b.complete) - Number(a.complete) || a.time - b.time || a.tag.localeCompare(b.tag));
}

/**
 * Keeps the newest `n` complete tags and the one `latest` names; removes the others,
 * incomplete leftovers of crashed saves included, and stray temp files (a save killed
 * mid-write). Call it when no save is in progress (rank 0, after saveCheckpoint returned).
 * Returns the removed tags.
 */
export async function keepLast(dir: string, n: number): Promise<string[]> {
  if (!Number.isInteger(n) || n < 1) throw new InputError(`keepLast: n must be a positive integer, got ${n}`);
  const all = await listCheckpoints(dir);
  const complete = all.filter((c) => c.complete);
  const keep = new Set(complete.slice(-n).map((c) => c.tag));
  const removed: string[] = [];
  for (const c of all) {
    if (keep.has(c.tag) || c.latest) continue;
    await rm(c.path, { recursive: true, force: true });
    removed.push(c.tag);
  }
  for (const d of [dir, ...all.filter((c) => !removed.includes(c.tag)).map((c) => c.path)]) await removeTempFiles(d);
  return removed;
}

async function removeTempFiles(dir: string): Promise<void> {
  for (const name of await readdir(dir)) if (name.startsWith('.') && name.includes(TMP_MARK)) await rm(join(dir, name), { force: true });
}

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return null;
  }
}
