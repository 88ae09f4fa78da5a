/**
 * Models by name, in Ollama's spirit: `--model` takes a model dir, a .gguf, or a name found in
 * the local models directory (DS_MODELS, default ~/.cache/deepscale/models). There a model is
 * a subdirectory with config.json (name = the directory) or a .gguf file (name = the file
 * without .gguf).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../errors.ts';

export interface LocalModel {
  readonly name: string;
  readonly format: 'dir' | 'gguf';
  readonly sizeBytes: number;
  readonly path: string;
}

/** The models directory: `envValue` (DS_MODELS) if set, else ~/.cache/deepscale/models. */
export function modelsDir(envValue: string | undefined): string {
  return envValue && envValue !== '' ? envValue : join(homedir(), '.cache', 'deepscale', 'models');
}

function dirSize(path: string): number {
  let total = 0;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    total += e.isDirectory() ? dirSize(p) : e.isFile() ? statSync(p).size : 0;
  }
  return total;
}

/** The models in `root`, by name; an absent directory has none. */
export function listLocalModels(root: string): LocalModel[] {
  if (!existsSync(root)) return [];
  const out: LocalModel[] = [];
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const path = join(root, e.name);
    if (e.isDirectory() && existsSync(join(path, 'config.json'))) out.push({ name: e.name, format: 'dir', sizeBytes: dirSize(path), path });
    else if (e.isFile() && e.name.endsWith('.gguf')) out.push({ name: e.name.slice(0, -'.gguf'.length), format: 'gguf', sizeBytes: statSync(path).size, path });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** A path that exists is used as it is; otherwise `model` is looked up by name in `root`. */
export function resolveModelPath(model: string, root: string): string {
  if (existsSync(model)) return model;
  const found = listLocalModels(root).find((m) => m.name === model);
  if (found) return found.path;
  const names = listLocalModels(root).map((m) => m.name);
  throw new InputError(
    `--model ${model}: no such file or directory, and no model of that name in ${root}` + (names.length > 0 ? ` (it has: ${names.join(', ')})` : ' (it has none; see `ds models list`)'),
  );
}

/** 1536 → '1.5 KiB'. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${u === 0 ? n : n.toFixed(1)} ${units[u]}`;
}
