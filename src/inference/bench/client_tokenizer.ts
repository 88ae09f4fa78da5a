/**
 * The benchmark client's own tokenizer (as vLLM's benchmark_serving loads one): prompts of exactly
 * --input-len tokens and output counts are made here, so the server needs no /tokenize of any shape.
 * PATH is a tokenizer.json, a model dir with one (or its .safetensors), or a .gguf (its tokenizer.ggml.* metadata).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../../errors.ts';
import { loadTokenizer } from '../../data/tokenizer/index.ts';
import type { Tokenizer } from '../../data/tokenizer/types.ts';
import { parseGguf } from '../loaders/gguf/reader.ts';
import { tokenizerFromGguf } from '../loaders/gguf/tokenizer.ts';

export function loadClientTokenizer(path: string): Tokenizer {
  if (!existsSync(path)) throw new InputError(`bench serve: --tokenizer ${path} does not exist`);
  if (statSync(path).isDirectory()) {
    const file = join(path, 'tokenizer.json');
    if (!existsSync(file)) throw new InputError(`bench serve: --tokenizer ${path} is a directory without tokenizer.json`);
    return loadTokenizer(file);
  }
  if (path.endsWith('.gguf')) return tokenizerFromGguf(parseGguf(readFileSync(path), path).metadata, path);
  // weights alone (model.safetensors, its index): the tokenizer.json beside them
  if (path.endsWith('.safetensors') || path.endsWith('.safetensors.index.json')) return loadClientTokenizer(dirname(path));
  return loadTokenizer(path);
}
