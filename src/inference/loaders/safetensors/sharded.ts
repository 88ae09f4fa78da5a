import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FormatError } from '../../../errors.ts';
import type { HostTensor } from '../types.ts';
import { readSafetensors } from './reader.ts';

export const INDEX_FILE = 'model.safetensors.index.json';

/**
 * Reads a model's safetensors weights from a directory: model.safetensors, or the shards that
 * model.safetensors.index.json's weight_map names. Every tensor the index lists must be in its shard.
 */
export function readSafetensorsDir(dir: string): Map<string, HostTensor> {
  const single = join(dir, 'model.safetensors');
  const index = join(dir, INDEX_FILE);
  if (existsSync(index)) return readSharded(index);
  if (existsSync(single)) return readSafetensors(single).tensors;
  throw new FormatError(dir, `neither model.safetensors nor ${INDEX_FILE} is there`);
}

export function readSharded(indexPath: string): Map<string, HostTensor> {
  let index: unknown;
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (e) {
    throw new FormatError(indexPath, `not JSON: ${(e as Error).message}`);
  }
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new FormatError(indexPath, 'weight_map is missing or not an object');
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\')) {
      throw new FormatError(indexPath, `weight_map.${name}: ${JSON.stringify(shard)} is not a shard file name`);
    }
    byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
  }
  const out = new Map<string, HostTensor>();
  for (const [shard, names] of byShard) {
    const path = join(dirname(indexPath), shard);
    if (!existsSync(path)) throw new FormatError(indexPath, `weight_map names shard ${shard}, which is missing`);
    const { tensors } = readSafetensors(path);
    for (const name of names) {
      const t = tensors.get(name);
      if (!t) throw new FormatError(path, `tensor "${name}" listed in ${INDEX_FILE} is not in this shard`);
      out.set(name, t);
    }
  }
  return out;
}
