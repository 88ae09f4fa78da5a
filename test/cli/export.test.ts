/** `ds export` through the CLI: the options reach the export and the dir it writes loads. */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeF16, encodeF16 } from '../../src/inference/loaders/dtype.ts';
import { loadModelDir } from '../../src/inference/loaders/model_dir.ts';
import { exportModelConfig, sameBits, tmp, trainedCheckpoint, type Checkpoint } from '../export/fixture.ts';

const t = tmp('ds-export-cli-');
let ck: Checkpoint;
beforeAll(async () => {
  ck = await trainedCheckpoint(join(t.dir, 'ckpt'), exportModelConfig({ numLayers: 1 }), { steps: 1, tag: 'step1' });
}, 120_000);
afterAll(() => t.cleanup());

describe('ds export', () => {
  it('--format dir --dtype fp16 --max-shard-size 20KB --tag step1 writes a sharded fp16 model dir', () => {
    const out = join(t.dir, 'model');
    const stdout = execFileSync(
      'node',
      ['bin/ds.js', 'export', '--checkpoint', ck.dir, '--tag', 'step1', '--out', out, '--format', 'dir', '--dtype', 'fp16', '--max-shard-size', '20KB'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    expect(stdout).toMatch(/^exported .* tag step1 \(\d+ parameters, F16\) to .*model: config\.json, model-00001-of-0000\d\.safetensors/);
    expect(readdirSync(out)).toContain('model.safetensors.index.json');
    const m = loadModelDir(out);
    for (const [name, p] of ck.params) expect(sameBits(m.weights.get(name)!.data, decodeF16(encodeF16(p), 0, p.length)), name).toBe(true);
  }, 120_000);
});
