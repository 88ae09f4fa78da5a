import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../../errors.ts';
import { loadGguf, loadGgufAsync } from './gguf/load.ts';
import { loadModelDir } from './model_dir.ts';
import type { LoadedModel } from './types.ts';

export type { HostTensor, LoadedModel } from './types.ts';
export { loadGguf, loadGgufAsync } from './gguf/load.ts';
export { loadModelDir } from './model_dir.ts';
export { hfConfigToModelConfig, modelConfigToHfConfig } from './hf_config.ts';
export { permuteQkForGguf, unpermuteQkFromGguf } from './gguf/permute.ts';
export { writeLlamaGguf } from './gguf/export.ts';
export { readSafetensors, parseSafetensors } from './safetensors/reader.ts';
export { writeSafetensors } from './safetensors/writer.ts';

/**
 * Loads a model from what `path` is: a .gguf file; a directory with config.json; or a
 * .safetensors file / model.safetensors.index.json inside such a directory.
 */
export function loadModel(path: string): LoadedModel {
  if (!existsSync(path)) throw new InputError(`loadModel: ${path} does not exist`);
  if (statSync(path).isDirectory()) {
    if (existsSync(join(path, 'config.json'))) return loadModelDir(path);
    throw new InputError(`loadModel: directory ${path} has no config.json (expected an HF-style model dir)`);
  }
  if (path.endsWith('.gguf')) return loadGguf(path);
  if (path.endsWith('.safetensors') || path.endsWith('.safetensors.index.json')) {
    // Weights alone carry no config or tokenizer: they come from the directory around them.
    const dir = dirname(path);
    if (existsSync(join(dir, 'config.json'))) return loadModelDir(dir);
    throw new InputError(`loadModel: ${path} needs config.json and tokenizer.json beside it`);
  }
  throw new InputError(`loadModel: cannot tell the format of ${path} (expected a .gguf, a .safetensors or a model dir)`);
}

/**
 * loadModel for a server: a .gguf loads without holding the event loop (loadGgufAsync); other
 * formats still load synchronously, after one turn of the loop.
 */
export async function loadModelAsync(path: string): Promise<LoadedModel> {
  if (path.endsWith('.gguf') && existsSync(path) && !statSync(path).isDirectory()) return loadGgufAsync(path);
  await new Promise((resolve) => setImmediate(resolve));
  return loadModel(path);
}
