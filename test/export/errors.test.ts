/** ds export on bad input: a clear typed error, and nothing written under (or beside) the output name. */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError, InputError, NotImplementedError } from '../../src/errors.ts';
import { exportCheckpoint, type ExportArgs } from '../../src/export/index.ts';
import { saveCheckpoint } from '../../src/runtime/checkpoint/index.ts';
import { exportModelConfig, tmp, trainedCheckpoint, type Checkpoint } from './fixture.ts';

const t = tmp('ds-export-err-');
let ck: Checkpoint;
beforeAll(async () => {
  ck = await trainedCheckpoint(join(t.dir, 'ckpt'), exportModelConfig({ intermediateSize: 48 }), { steps: 1 });
}, 120_000);
afterAll(() => t.cleanup());

/** Runs the export into a fresh, empty folder and returns the error and what the folder holds after. */
async function failing(args: Omit<ExportArgs, 'out'>, outName = 'model.gguf'): Promise<{ err: unknown; left: string[] }> {
  const outDir = join(t.dir, `out-${Math.random().toString(36).slice(2)}`);
  mkdirSync(outDir);
  const err = await exportCheckpoint({ ...args, out: join(outDir, outName) }).then(() => null, (e: unknown) => e);
  const left = readdirSync(outDir);
  rmSync(outDir, { recursive: true });
  return { err, left };
}

describe('ds export refuses, writing nothing', () => {
  it('a checkpoint directory that does not exist', async () => {
    const { err, left } = await failing({ checkpoint: join(t.dir, 'nope'), format: 'dir' }, 'model');
    expect(err).toBeInstanceOf(InputError);
    expect(String(err)).toMatch(/nope does not exist/);
    expect(left).toEqual([]);
  });

  it('an incomplete tag (no manifest: its save did not finish)', async () => {
    const dir = join(t.dir, 'partial');
    await saveCheckpoint({ dir, tag: 'step1', rank: 0, worldSize: 1, files: { params: new Float32Array(4) }, meta: {} });
    rmSync(join(dir, 'step1', 'manifest.json'));
    const { err, left } = await failing({ checkpoint: dir, tag: 'step1', format: 'gguf' });
    expect(err).toBeInstanceOf(FormatError);
    expect(String(err)).toMatch(/manifest\.json: missing: the save of tag "step1" did not finish/);
    expect(left).toEqual([]);
  });

  it('a checkpoint saved without model_config', async () => {
    const dir = join(t.dir, 'noconfig');
    await saveCheckpoint({ dir, tag: 't', rank: 0, worldSize: 1, files: { params: new Float32Array(4) }, meta: { layout: [{ name: 'x', shape: [4], offset: 0 }] } });
    const { err } = await failing({ checkpoint: dir, format: 'dir' }, 'model');
    expect(String(err)).toMatch(/meta\.json: has no model_config/);
  });

  it('a model_config with an architecture extra the Llama export cannot hold', async () => {
    const dir = join(t.dir, 'qknorm');
    const meta = { model_config: { ...ck.config, qkNorm: true }, layout: [{ name: 'x', shape: [4], offset: 0 }] };
    await saveCheckpoint({ dir, tag: 't', rank: 0, worldSize: 1, files: { params: new Float32Array(4) }, meta });
    const { err } = await failing({ checkpoint: dir, format: 'dir' }, 'model');
    expect(err).toBeInstanceOf(NotImplementedError);
    expect(String(err)).toMatch(/exporting a model with model_config\.qkNorm = true \(plain Llama export only\)/);
  });

  it('a checkpoint whose parameters do not match its layout', async () => {
    const dir = join(t.dir, 'mismatch');
    const meta = { model_config: ck.config, layout: [{ name: 'model.embed_tokens.weight', shape: [4, 2], offset: 0 }] };
    await saveCheckpoint({ dir, tag: 't', rank: 0, worldSize: 1, files: { params: new Float32Array(4) }, meta });
    const { err, left } = await failing({ checkpoint: dir, format: 'gguf' });
    expect(err).toBeInstanceOf(FormatError);
    expect(String(err)).toMatch(/the checkpoint's parameters are 4 values, meta\.layout lists 8/);
    expect(left).toEqual([]);
  });

  it('an unknown --quantize type, and the PTQ types not built yet', async () => {
    const a = await failing({ checkpoint: ck.dir, format: 'gguf', quantize: 'q5_k' });
    expect(a.err).toBeInstanceOf(InputError);
    expect(String(a.err)).toMatch(/--quantize "q5_k" is not one of q8_0, q4_0/);
    expect(a.left).toEqual([]);
    const b = await failing({ checkpoint: ck.dir, format: 'gguf', quantize: 'int8' });
    expect(b.err).toBeInstanceOf(NotImplementedError);
    const c = await failing({ checkpoint: ck.dir, format: 'dir', quantize: 'q8_0' }, 'model');
    expect(String(c.err)).toMatch(/a model dir \(safetensors\) holds fp32, fp16 or bf16/);
  });

  it('Q4_0 on rows whose length is not a multiple of 32 (down_proj of intermediate_size 48)', async () => {
    const { err, left } = await failing({ checkpoint: ck.dir, format: 'gguf', quantize: 'q4_0' });
    expect(err).toBeInstanceOf(InputError);
    expect(String(err)).toMatch(/--quantize q4_0 stores rows in blocks of 32, but model\.layers\.0\.mlp\.down_proj\.weight \(blk\.0\.ffn_down\.weight\) has rows of 48/);
    expect(left).toEqual([]);
  });

  it('a GGUF --out that does not end in .gguf, and a checkpoint with no tokenizer', async () => {
    expect(String((await failing({ checkpoint: ck.dir, format: 'gguf' }, 'model.bin')).err)).toMatch(/must end in \.gguf/);
    const bare = await trainedCheckpoint(join(t.dir, 'notok'), ck.config, { steps: 0, tokenizer: null });
    const { err, left } = await failing({ checkpoint: bare.dir, format: 'gguf' });
    expect(String(err)).toMatch(/has no tokenizer\.json; a GGUF must carry its tokenizer/);
    expect(left).toEqual([]);
  }, 120_000);
});
