/** `ds generate --device webgpu` through the CLI: the reference greedy tokens, and the adapter named (auto's choice: device.test.ts). */
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { referenceGreedy } from '../../helpers/reference_llama.ts';
import { tinyGguf } from '../engine/fixture.ts';
import { gpuSkipReason, gpuTitle } from './gpu_available.ts';

const fx = tinyGguf(9);
afterAll(() => fx.cleanup());

function generate(device: string): { out: { prompt_token_ids: number[]; token_ids: number[] }; stderr: string } {
  const r = spawnSync('node', ['bin/ds.js', 'generate', '--model', fx.path, '--prompt', 'hello', '--max-tokens', '6', '--temperature', '0', '--json', '--device', device], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return { out: JSON.parse(r.stdout), stderr: r.stderr };
}

describe.skipIf(gpuSkipReason !== null)(gpuTitle('ds generate --device'), () => {
  it('webgpu: the reference greedy tokens, on the adapter it names', () => {
    const { out, stderr } = generate('webgpu');
    expect(out.token_ids).toEqual(referenceGreedy(fx.model, out.prompt_token_ids, 6));
    expect(stderr).toMatch(/device webgpu: (software|hardware) adapter/);
  }, 60_000);

});
