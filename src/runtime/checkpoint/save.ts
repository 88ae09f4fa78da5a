/**
 * Saving a checkpoint, on every rank. The order is what makes a kill -9 harmless:
 *   1. each rank writes its buffers (temp file → fsync → rename), then rank_<r>.files.json;
 *   2. barrier (or rank 0 waits for every rank's files.json to appear);
 *   3. rank 0 writes meta.json, then manifest.json (the tag is now complete);
 *   4. rank 0 rewrites `latest` — last, so `latest` never names an incomplete tag;
 *   5. barrier again, so no rank runs ahead of a checkpoint that is not yet there.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CommError, InputError } from '../../errors.ts';
import { writeFileAtomic, type WriteHooks } from './atomic.ts';
import { encode, kindOf, type CheckpointBuffer, type HalfDtype } from './dtype.ts';
import {
  FORMAT, LATEST, MANIFEST, META, VERSION, checkBufferName, checkTag, rankFileName, rankIndexName, tagDir,
  type FileEntry, type Manifest, type RankFiles, type RankLayout,
} from './layout.ts';

export interface SaveOptions extends WriteHooks {
  dir: string;
  tag: string;
  rank: number;
  worldSize: number;
  /** This rank's buffers: 'params', 'optim.exp_avg', … */
  files: Record<string, CheckpointBuffer>;
  /** JSON: step, lr, seed, data-loader position, config, `layout` (segments, dtypes, ZeRO stage). Rank 0's is written. */
  meta: Record<string, unknown>;
  /** What this rank's buffers hold (its grid place, segments, ZeRO cut); recorded in the manifest's rankLayouts. */
  rankLayout?: RankLayout;
  /** Storage per float32 buffer name (e.g. { params: 'bf16' }); others are stored as float32. */
  dtypes?: Record<string, HalfDtype>;
  /**
   * Text files rank 0 writes into the tag folder before the manifest (so a complete tag has
   * them), e.g. tokenizer.json: name → contents.
   */
  textFiles?: Record<string, string>;
  /** The process group's barrier. Without it (and worldSize > 1) rank 0 polls for the other ranks' files. */
  barrier?: () => Promise<void>;
  /** How long rank 0 polls for other ranks without a barrier (ms). */
  waitTimeoutMs?: number;
}

export interface SaveResult {
  readonly tag: string;
  readonly path: string;
  /** Only on rank 0. */
  readonly manifest: Manifest | null;
}

export async function saveCheckpoint(opts: SaveOptions): Promise<SaveResult> {
  const { dir, tag, rank, worldSize, files } = opts;
  checkTag(tag, 'saveCheckpoint');
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new InputError(`saveCheckpoint: worldSize must be a positive integer, got ${worldSize}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new InputError(`saveCheckpoint: rank ${rank} is outside [0, ${worldSize})`);
  for (const name of Object.keys(opts.dtypes ?? {})) {
    if (!(name in files)) throw new InputError(`saveCheckpoint: dtypes names buffer "${name}", which is not among the files (${Object.keys(files).join(', ')})`);
  }
  const metaText = JSON.stringify(opts.meta, null, 2);
  const path = tagDir(dir, tag);
  await mkdir(path, { recursive: true });
  // Saving over an existing tag: drop its manifest and this rank's index first, so a crash
  // mid-save leaves the tag visibly incomplete instead of a manifest that no longer matches.
  // (Without a barrier rank 0 could still read another rank's stale index before that rank
  // starts: re-saving a tag across ranks needs the barrier.)
  await rm(join(path, MANIFEST), { force: true });
  await rm(join(path, rankIndexName(rank)), { force: true });

  const entries: Record<string, FileEntry> = {};
  for (const [name, buf] of Object.entries(files)) {
    checkBufferName(name, 'saveCheckpoint');
    const as = opts.dtypes?.[name] ?? 'fp32';
    if (as !== 'fp32' && !(buf instanceof Float32Array)) throw new InputError(`saveCheckpoint: buffer "${name}" is bytes, it cannot be stored as ${as}`);
    const { bytes, dtype } = encode(buf, as);
    const file = rankFileName(rank, name);
    const w = await writeFileAtomic(join(path, file), bytes, opts);
    entries[name] = { file, kind: kindOf(buf), dtype, numel: buf.length, bytes: w.bytes, sha256: w.sha256 };
  }
  const own: RankFiles = { rank, files: entries, ...(opts.rankLayout ? { layout: opts.rankLayout } : {}) };
  await writeFileAtomic(join(path, rankIndexName(rank)), utf8(JSON.stringify(own, null, 2)), opts);

  if (opts.barrier) await opts.barrier();
  let manifest: Manifest | null = null;
  if (rank === 0) {
    const all = [own];
    for (let r = 1; r < worldSize; r++) all.push(await readRankFiles(path, r, opts.barrier ? 0 : (opts.waitTimeoutMs ?? 300_000)));
    const ranks = all.map((f) => f.files);
    const layouts = all.map((f) => f.layout);
    for (const [name, text] of Object.entries(opts.textFiles ?? {})) {
      checkBufferName(name, 'saveCheckpoint');
      await writeFileAtomic(join(path, name), utf8(text), opts);
    }
    const metaFile = await writeFileAtomic(join(path, META), utf8(metaText), opts);
    manifest = {
      format: FORMAT, version: VERSION, tag, worldSize, createdAt: Date.now(),
      layout: opts.meta.layout ?? null,
      meta: { file: META, ...metaFile },
      ranks,
      ...(layouts.every((l) => l !== undefined) ? { rankLayouts: layouts as RankLayout[] } : {}),
    };
    await writeFileAtomic(join(path, MANIFEST), utf8(JSON.stringify(manifest, null, 2)), opts);
    await writeFileAtomic(join(dir, LATEST), utf8(`${tag}\n`), opts);
  }
  if (opts.barrier) await opts.barrier();
  return { tag, path, manifest };
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Rank r's files.json; polls up to `timeoutMs` for it to appear (0: it must be there). */
async function readRankFiles(path: string, r: number, timeoutMs: number): Promise<RankFiles> {
  const file = join(path, rankIndexName(r));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as RankFiles;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      if (Date.now() >= deadline) {
        throw new CommError(`saveCheckpoint: rank ${r} did not finish writing its checkpoint files (${file} missing after ${timeoutMs} ms)`);
      }
      await new Promise((res) => setTimeout(res, 20));
    }
  }
}
