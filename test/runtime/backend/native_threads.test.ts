/**
 * The native kernels' thread pool: DS_NUM_THREADS sizes it (else the cores over LOCAL_SIZE), `ds
 * report` says how many, a bad value is an error naming the variable, and a training step gives
 * bit-identical gradients on 1 and 3 threads (each output element is summed in one fixed order,
 * whatever thread computes it).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { ADDON_PATH, nativeThreadCount } from '../../../src/runtime/backend/native.ts';

const run = promisify(execFile);
const RUN = new URL('./fixtures/native_threads_run.ts', import.meta.url).pathname;

describe('native thread count', () => {
  it('DS_NUM_THREADS, else the cores shared by the ranks on this node; a bad value names the variable', () => {
    expect(nativeThreadCount({ DS_NUM_THREADS: '3' }, 16)).toBe(3);
    expect(nativeThreadCount({}, 16)).toBe(16);
    expect(nativeThreadCount({ LOCAL_SIZE: '4' }, 16)).toBe(4);
    expect(nativeThreadCount({ LOCAL_SIZE: '4' }, 2)).toBe(1);
    expect(() => nativeThreadCount({ DS_NUM_THREADS: '0' }, 16)).toThrow(/DS_NUM_THREADS must be a positive integer.*got "0"/);
    expect(() => nativeThreadCount({ DS_NUM_THREADS: 'two' }, 16)).toThrow(/DS_NUM_THREADS/);
  });
});

describe.skipIf(!existsSync(ADDON_PATH))('native thread pool (a child process per pool size)', () => {
  const step = async (threads: number): Promise<{ threads: number; live: boolean; loss: number; hash: number }> => {
    const { stdout } = await run('node', ['--import', './bin/register.js', RUN], { encoding: 'utf8', env: { ...process.env, DS_NUM_THREADS: String(threads) } });
    return JSON.parse(stdout.trim().split('\n').pop()!) as { threads: number; live: boolean; loss: number; hash: number };
  };

  it('a training step on 1 and on 3 threads gives the same loss and bit-identical gradients', async () => {
    const [one, three] = [await step(1), await step(3)];
    expect(one.live && three.live).toBe(true);
    expect([one.threads, three.threads]).toEqual([1, 3]);
    expect(three.loss).toBe(one.loss);
    expect(three.hash).toBe(one.hash);
  }, 60_000);

  it('ds report names the pool size; a bad DS_NUM_THREADS fails with the variable named', async () => {
    const { stdout } = await run('node', ['bin/ds.js', 'report', '--json'], { encoding: 'utf8', env: { ...process.env, DS_NUM_THREADS: '3' } });
    const report = JSON.parse(stdout) as { native: { live: boolean; threads: number; why: string } };
    expect(report.native).toMatchObject({ live: true, threads: 3 });
    expect(report.native.why).toMatch(/3 threads/);
    const bad = await run('node', ['bin/ds.js', 'report'], { encoding: 'utf8', env: { ...process.env, DS_NUM_THREADS: 'x' } }).then(() => null, (e: { stderr: string }) => e);
    expect(bad?.stderr).toMatch(/DS_NUM_THREADS must be a positive integer .*got "x"/);
    expect(bad?.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  }, 60_000);
});
