/** `ds generate --device webgpu` through the CLI: the reference greedy tokens, and the adapter named (auto's choice: device.test.ts). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { referenceGreedy } from '../../helpers/reference_llama.ts';
import { tinyGguf } from '../engine/fixture.ts';
import { gpuSkipReason, gpuTitle } from './gpu_available.ts';

const fx = tinyGguf(9);
afterAll(() => fx.cleanup());

/** The CLI in a child process, awaited (a sync spawn would hold this test worker's event loop meanwhile). */
async function generate(device: string): Promise<{ out: { prompt_token_ids: number[]; token_ids: number[] }; stderr: string }> {
  const args = ['bin/ds.js', 'generate', '--model', fx.path, '--prompt', 'hello', '--max-tokens', '6', '--temperature', '0', '--json', '--device', device];
  const { stdout, stderr } = await promisify(execFile)('node', args, { encoding: 'utf8' });
  return { out: JSON.parse(stdout), stderr };
}

describe.skipIf(gpuSkipReason !== null)(gpuTitle('ds generate --device'), () => {
  it('webgpu: the reference greedy tokens, on the adapter it names', async () => {
    const { out, stderr } = await generate('webgpu');
    expect(out.token_ids).toEqual(referenceGreedy(fx.model, out.prompt_token_ids, 6));
    expect(stderr).toMatch(/device webgpu: (software|hardware) adapter/);
  }, 60_000);
});
