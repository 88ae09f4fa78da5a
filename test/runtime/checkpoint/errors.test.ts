/** Bad checkpoints give typed errors naming the file and what differs. */
import { mkdirSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { FormatError, InputError } from '../../../src/errors.ts';
import { loadCheckpoint, saveCheckpoint } from '../../../src/runtime/checkpoint/index.ts';
import { seeded, removeTempDirs, tempDir } from './helpers.ts';

afterAll(removeTempDirs);

let dir: string;
beforeEach(async () => {
  dir = tempDir();
  for (const tag of ['step1', 'step2']) {
    await saveCheckpoint({ dir, tag, rank: 0, worldSize: 1, files: { params: seeded(256, 1), mask: new Uint8Array([1, 2, 3]) }, meta: { step: 1 } });
  }
});

const load = (tag?: string, worldSize = 1): Promise<unknown> => loadCheckpoint({ dir, tag, rank: 0, worldSize });

describe('loadCheckpoint errors', () => {
  it('one flipped byte: FormatError naming the file and both sha256', async () => {
    const file = join(dir, 'step2', 'rank_0.params.bin');
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.from([0xff]), 0, 1, 517);
    closeSync(fd);
    const err = await load().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as FormatError).file).toBe(file);
    expect((err as Error).message).toMatch(/sha256 is [0-9a-f]{64}, the manifest says [0-9a-f]{64}/);
    await expect(load('step1')).resolves.toBeTruthy();
  });

  it('a truncated file: FormatError with both sizes', async () => {
    const file = join(dir, 'step2', 'rank_0.params.bin');
    truncateSync(file, 1000);
    await expect(load()).rejects.toThrow(new FormatError(file, 'is 1000 bytes, the manifest says 1024 (truncated or overwritten)'));
  });

  it('a deleted rank file and a corrupt meta.json are named', async () => {
    rmSync(join(dir, 'step2', 'rank_0.mask.bin'));
    await expect(load()).rejects.toThrow(/rank_0\.mask\.bin: missing; the manifest lists it with 3 bytes/);
    writeFileSync(join(dir, 'step1', 'meta.json'), '{"step": 2}\n');
    await expect(load('step1')).rejects.toThrow(/meta\.json: is 12 bytes/);
  });

  it('world size mismatch: one rank\'s files cannot be read for another world; the error points to consolidateCheckpoint', async () => {
    const err = await load(undefined, 4).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/saved by world size 1, asked for world size 4: read it whole with consolidateCheckpoint/);
  });

  it('a missing tag lists the tags that exist; a missing dir and missing latest are InputErrors', async () => {
    await expect(load('step9')).rejects.toThrow(new InputError(`loadCheckpoint: no checkpoint tag "step9" in ${dir}; tags there: step1, step2`));
    await expect(loadCheckpoint({ dir: join(dir, 'nope'), rank: 0, worldSize: 1 })).rejects.toThrow(InputError);
    rmSync(join(dir, 'latest'));
    await expect(load()).rejects.toThrow(/latest does not exist .*tags there: step1, step2; pass a tag/);
  });

  it('a tag without manifest (an unfinished save) is a FormatError listing the complete tags', async () => {
    mkdirSync(join(dir, 'step3'));
    writeFileSync(join(dir, 'step3', 'rank_0.params.bin'), Buffer.alloc(8));
    await expect(load('step3')).rejects.toThrow(/manifest\.json: missing: the save of tag "step3" did not finish; complete tags: step1, step2/);
  });

  it('a manifest that is not JSON names the manifest', async () => {
    const file = join(dir, 'step2', 'manifest.json');
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, 40));
    await expect(load()).rejects.toThrow(/manifest\.json: is not valid JSON/);
  });

  it('bad save arguments are InputErrors', async () => {
    await expect(saveCheckpoint({ dir, tag: '../x', rank: 0, worldSize: 1, files: {}, meta: {} })).rejects.toThrow(/tag "\.\.\/x" is not a valid/);
    await expect(saveCheckpoint({ dir, tag: 'x', rank: 2, worldSize: 2, files: {}, meta: {} })).rejects.toThrow(/rank 2 is outside \[0, 2\)/);
    await expect(saveCheckpoint({ dir, tag: 'x', rank: 0, worldSize: 1, files: { m: new Uint8Array(2) }, dtypes: { m: 'fp16' }, meta: {} })).rejects.toThrow(/"m" is bytes/);
  });
});
