import { beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const FIXTURE = 'test/runtime/engine/fixtures/train_losses.ts';
let port = 29700 + Math.floor(Math.random() * 200);

/** Runs the fixture through ds-launch and returns rank 0's losses. */
/** Async, so vitest's worker keeps answering its runner while the ranks train. */
async function losses(launcherArgs: string[], micro: number, steps: number, gas = 1, ckpt: string[] = []): Promise<number[]> {
  const { stdout: out } = await promisify(execFile)('node', ['bin/ds-launch.js', '--master_port', String(port++), ...launcherArgs, FIXTURE, String(micro), String(steps), String(gas), ...ckpt], {
    encoding: 'utf8',
    timeout: 180_000,
    env: { ...process.env, DS_LOG_LEVEL: 'warn' },
  });
  const line = out.split('\n').find((l) => l.includes('"losses"'))!;
  return JSON.parse(line.replace(/^\[rank \d+\] /, '')).losses as number[];
}

const relDiff = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!) / Math.abs(b[i]!)));

function hasMpirun(): boolean {
  try {
    execFileSync('mpirun', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('data-parallel training', () => {
  const steps = 6;
  let one: number[] = [];
  beforeAll(async () => {
    one = await losses(['--num_procs', '1'], 8, steps);
  });

  it('is bit-identical run to run with the same seed and config', async () => {
    expect(await losses(['--num_procs', '1'], 8, steps)).toEqual(one);
  });

  it('2 ranks × micro-batch 4 give the losses of 1 rank × micro-batch 8', async () => {
    const two = await losses(['--num_procs', '2'], 4, steps);
    expect(two.length).toBe(steps);
    expect(relDiff(two, one)).toBeLessThan(1e-6);
    expect(one[steps - 1]!).toBeLessThan(one[0]!);
  });

  it('1 rank × micro-batch 4 × 2 accumulation steps gives the same losses', async () => {
    expect(relDiff(await losses(['--num_procs', '1'], 4, steps, 2), one)).toBeLessThan(1e-6);
  });

  it('a run resumed from a checkpoint continues the same loss curve (2 ranks)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-ckpt-'));
    const full = await losses(['--num_procs', '2'], 4, steps);
    const first = await losses(['--num_procs', '2'], 4, steps, 1, [dir, '3']);
    expect(fs.readFileSync(path.join(dir, 'latest'), 'utf8').trim()).toBe('global_step3');
    const rest = await losses(['--num_procs', '2'], 4, steps, 1, [dir, 'resume']);
    expect(first).toEqual(full);
    expect(rest).toEqual(full.slice(3));
  });

  it.skipIf(!hasMpirun())('2 ranks started through mpirun train to the losses of the local launcher', async () => {
    const local = await losses(['--num_procs', '2'], 4, 3);
    const mpi = await losses(['--launcher', 'mpirun', '--num_procs', '2'], 4, 3);
    expect(mpi).toEqual(local);
  });
}, 300_000);
