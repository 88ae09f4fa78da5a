import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ADDON_PATH } from '../../../src/runtime/backend/native.ts';

const run = promisify(execFile);

describe('scripts/build_native.mjs (npm postinstall)', () => {
  it('with no usable C compiler it exits 0, says the wasm kernels stay, and leaves any built addon as it was', async () => {
    const before = existsSync(ADDON_PATH) ? statSync(ADDON_PATH).mtimeMs : null;
    const { stdout } = await run('node', ['scripts/build_native.mjs'], { env: { ...process.env, CC: 'deepscale-no-such-cc' }, encoding: 'utf8' });
    expect(stdout).toMatch(/native kernels not built \(.*deepscale-no-such-cc.*\); training uses the wasm kernels/);
    expect(existsSync(ADDON_PATH) ? statSync(ADDON_PATH).mtimeMs : null).toBe(before);
  }, 60_000);
});
