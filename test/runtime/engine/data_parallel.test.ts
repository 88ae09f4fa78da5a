import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';

const FIXTURE = 'test/runtime/engine/fixtures/train_losses.ts';
let port = 29700 + Math.floor(Math.random() * 200);

/** Runs the fixture through ds-launch and returns rank 0's losses. */
function losses(launcherArgs: string[], micro: number, steps: number, gas = 1): number[] {
  const out = execFileSync('node', ['bin/ds-launch.js', '--master_port', String(port++), ...launcherArgs, FIXTURE, String(micro), String(steps), String(gas)], {
    encoding: 'utf8',
    timeout: 120_000,
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
  beforeAll(() => {
    one = losses(['--num_procs', '1'], 8, steps);
  });

  it('is bit-identical run to run with the same seed and config', () => {
    expect(losses(['--num_procs', '1'], 8, steps)).toEqual(one);
  });

  it('2 ranks × micro-batch 4 give the losses of 1 rank × micro-batch 8', () => {
    const two = losses(['--num_procs', '2'], 4, steps);
    expect(two.length).toBe(steps);
    expect(relDiff(two, one)).toBeLessThan(1e-6);
    expect(one[steps - 1]!).toBeLessThan(one[0]!);
  });

  it('1 rank × micro-batch 4 × 2 accumulation steps gives the same losses', () => {
    expect(relDiff(losses(['--num_procs', '1'], 4, steps, 2), one)).toBeLessThan(1e-6);
  });

  it.skipIf(!hasMpirun())('2 ranks started through mpirun train to the losses of the local launcher', () => {
    const local = losses(['--num_procs', '2'], 4, 3);
    const mpi = losses(['--launcher', 'mpirun', '--num_procs', '2'], 4, 3);
    expect(mpi).toEqual(local);
  });
}, 300_000);
