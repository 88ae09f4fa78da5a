/**
 * Loading one rank's part of a checkpoint. Every byte is checked against the manifest
 * (size, then sha256) before it is handed back, so a truncated or corrupt file is an
 * error naming the file, never silently wrong weights.
 */
import { createHash } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError, InputError } from '../../errors.ts';
import { BYTES_PER, decode, type CheckpointBuffer } from './dtype.ts';
import { FORMAT, LATEST, MANIFEST, VERSION, tagDir, type FileEntry, type Manifest } from './layout.ts';
import { listCheckpoints } from './list.ts';
import { reshard } from './reshard.ts';

export interface LoadOptions {
  dir: string;
  /** Defaults to the tag named in dir/latest. */
  tag?: string;
  rank: number;
  worldSize: number;
}

export interface LoadedCheckpoint {
  readonly tag: string;
  readonly files: Record<string, CheckpointBuffer>;
  readonly meta: Record<string, unknown>;
  readonly manifest: Manifest;
}

export async function loadCheckpoint(opts: LoadOptions): Promise<LoadedCheckpoint> {
  const { dir, rank, worldSize } = opts;
  if (!(await exists(dir))) throw new InputError(`loadCheckpoint: checkpoint directory ${dir} does not exist`);
  const tag = opts.tag ?? (await readLatest(dir));
  const path = tagDir(dir, tag);
  if (!(await exists(path))) throw new InputError(`loadCheckpoint: no checkpoint tag "${tag}" in ${dir}; tags there: ${await tagList(dir)}`);
  const manifestPath = join(path, MANIFEST);
  if (!(await exists(manifestPath))) {
    throw new FormatError(manifestPath, `missing: the save of tag "${tag}" did not finish; complete tags: ${await tagList(dir, true)}`);
  }
  const manifest = parseManifest(manifestPath, await readFile(manifestPath, 'utf8'));
  if (manifest.worldSize !== worldSize) reshard(manifest, worldSize, manifestPath);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new InputError(`loadCheckpoint: rank ${rank} is outside [0, ${worldSize})`);

  const metaBytes = await readVerified(join(path, manifest.meta.file), manifest.meta);
  const meta = JSON.parse(new TextDecoder().decode(metaBytes)) as Record<string, unknown>;
  const files: Record<string, CheckpointBuffer> = {};
  const entries = manifest.ranks[rank];
  if (!entries) throw new FormatError(manifestPath, `has no entry for rank ${rank} (ranks listed: ${manifest.ranks.length})`);
  for (const [name, entry] of Object.entries(entries)) {
    const file = join(path, entry.file);
    if (entry.bytes !== entry.numel * BYTES_PER[entry.dtype]) {
      throw new FormatError(manifestPath, `buffer "${name}": ${entry.bytes} bytes cannot hold ${entry.numel} ${entry.dtype} elements`);
    }
    files[name] = decode(await readVerified(file, entry), entry.dtype);
  }
  return { tag, files, meta, manifest };
}

/** The tag that dir/latest names. */
export async function readLatest(dir: string): Promise<string> {
  const file = join(dir, LATEST);
  if (!(await exists(file))) throw new InputError(`loadCheckpoint: ${file} does not exist (no checkpoint finished); tags there: ${await tagList(dir)}; pass a tag`);
  const tag = (await readFile(file, 'utf8')).trim();
  if (!tag) throw new FormatError(file, 'is empty; it should name a checkpoint tag');
  return tag;
}

/** The file's bytes in a fresh 8-byte-aligned buffer, after checking size and sha256. */
async function readVerified(file: string, want: Pick<FileEntry, 'bytes' | 'sha256'>): Promise<Uint8Array> {
  if (!(await exists(file))) throw new FormatError(file, `missing; the manifest lists it with ${want.bytes} bytes`);
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    if (size !== want.bytes) throw new FormatError(file, `is ${size} bytes, the manifest says ${want.bytes} (truncated or overwritten)`);
    const bytes = new Uint8Array(new ArrayBuffer(size));
    let off = 0;
    while (off < size) {
      const { bytesRead } = await fh.read(bytes, off, size - off, off);
      if (bytesRead === 0) throw new FormatError(file, `ended after ${off} of ${size} bytes while reading`);
      off += bytesRead;
    }
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== want.sha256) throw new FormatError(file, `sha256 is ${sha}, the manifest says ${want.sha256} (the file is corrupt)`);
    return bytes;
  } finally {
    await fh.close();
  }
}

function parseManifest(file: string, text: string): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch (e) {
    throw new FormatError(file, `is not valid JSON (${(e as Error).message})`);
  }
  if (m.format !== FORMAT) throw new FormatError(file, `format is ${JSON.stringify(m.format)}, expected "${FORMAT}"`);
  if (m.version !== VERSION) throw new FormatError(file, `version ${m.version} is not supported (this reader knows version ${VERSION})`);
  if (!Number.isInteger(m.worldSize) || !Array.isArray(m.ranks) || m.ranks.length !== m.worldSize) {
    throw new FormatError(file, `worldSize ${m.worldSize} does not match the ${Array.isArray(m.ranks) ? m.ranks.length : 'missing'} rank entries`);
  }
  return m;
}

async function tagList(dir: string, completeOnly = false): Promise<string> {
  const tags = (await listCheckpoints(dir)).filter((c) => c.complete || !completeOnly).map((c) => c.tag);
  return tags.length ? tags.join(', ') : '(none)';
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}
