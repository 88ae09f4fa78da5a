/** Model names in a local models directory (DS_MODELS), as `ds serve --model NAME` and `ds models list` see them. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.ts';
import { formatBytes, listLocalModels, modelsDir, resolveModelPath } from '../../../src/inference/server/models_dir.ts';

const root = mkdtempSync(join(tmpdir(), 'ds-models-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('local models directory', () => {
  mkdirSync(join(root, 'llama-dir'));
  writeFileSync(join(root, 'llama-dir', 'config.json'), '{}');
  writeFileSync(join(root, 'llama-dir', 'model.safetensors'), Buffer.alloc(1000));
  writeFileSync(join(root, 'small.gguf'), Buffer.alloc(2048));
  mkdirSync(join(root, 'not-a-model'));
  writeFileSync(join(root, 'notes.txt'), 'x');

  it('lists model dirs and .gguf files with format and size', () => {
    expect(listLocalModels(root)).toEqual([
      { name: 'llama-dir', format: 'dir', sizeBytes: 1002, path: join(root, 'llama-dir') },
      { name: 'small', format: 'gguf', sizeBytes: 2048, path: join(root, 'small.gguf') },
    ]);
    expect(listLocalModels(join(root, 'absent'))).toEqual([]);
    expect(formatBytes(2048)).toBe('2.0 KiB');
  });

  it('resolves a path as is, a name through the directory, and names what it has otherwise', () => {
    expect(resolveModelPath(join(root, 'small.gguf'), '/nowhere')).toBe(join(root, 'small.gguf'));
    expect(resolveModelPath('small', root)).toBe(join(root, 'small.gguf'));
    expect(resolveModelPath('llama-dir', root)).toBe(join(root, 'llama-dir'));
    expect(() => resolveModelPath('mistral', root)).toThrow(InputError);
    expect(() => resolveModelPath('mistral', root)).toThrow(/no model of that name in .* \(it has: llama-dir, small\)/);
    expect(modelsDir('/x')).toBe('/x');
    expect(modelsDir(undefined)).toMatch(/\.cache\/deepscale\/models$/);
  });
});
