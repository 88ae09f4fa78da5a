/**
 * Pipeline parallelism's contract: every (data, pipe) layout trains the 4-layer GQA model with
 * tied embeddings to the 1-rank loss curve (same global batch, same seed), ZeRO-1 over the data
 * axis included.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const FIXTURE = 'test/parallel/fixtures/pipe_losses.ts';
let port = 30100 + Math.floor(Math.random() * 300);

/** Rank 0's losses, and how many parameters rank 0 (stage 0) holds. */
async function run(procs: number, micro: number, gas: number, stages: number, zero = 0): Promise<{ losses: number[]; numel: number; tensorsAfter: number[] }> {
  const { stdout } = await promisify(execFile)('node', ['bin/ds-launch.js', '--num_procs', String(procs), '--master_port', String(port++), FIXTURE, String(micro), String(gas), String(STEPS), String(stages), String(zero)], {
    encoding: 'utf8', timeout: 240_000, env: { ...process.env, DS_LOG_LEVEL: 'warn' },
  });
  const line = stdout.split('\n').find((l) => l.includes('"losses"'))!;
  return JSON.parse(line.replace(/^\[rank \d+\] /, '')) as { losses: number[]; numel: number; tensorsAfter: number[] };
}

const STEPS = 6;
const relDiff = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!) / Math.abs(b[i]!)));

describe('pipeline parallelism (1F1B) gives the 1-rank losses', () => {
  let one: number[] = [];
  let whole = 0;
  // A stage holds only its slice: fewer parameters than the whole model (so the pipeline did run).
  const losses = async (procs: number, micro: number, gas: number, stages: number, zero = 0): Promise<number[]> => {
    const r = await run(procs, micro, gas, stages, zero);
    if (stages > 1) expect(r.numel).toBeLessThan(whole);
    // No tensor outlives a step on stage 0 (activations, received gradients, tapes all freed).
    expect(new Set(r.tensorsAfter.slice(1)).size).toBe(1);
    return r.losses;
  };
  beforeAll(async () => {
    const r = await run(1, 8, 2, 1);
    one = r.losses;
    whole = r.numel;
    expect(one).toHaveLength(STEPS);
    expect(one[STEPS - 1]!).toBeLessThan(one[0]!);
  }, 250_000);

  it('(dp, pp) = (1, 2): 2 stages, 2 micro-batches of 8', async () => {
    expect(relDiff(await losses(2, 8, 2, 2), one)).toBeLessThan(1e-5);
  }, 250_000);

  it('(dp, pp) = (1, 4): 4 stages over the 10-layer list, 4 micro-batches of 4', async () => {
    expect(relDiff(await losses(4, 4, 4, 4), one)).toBeLessThan(1e-5);
  }, 250_000);

  it('(dp, pp) = (2, 2) with ZeRO-1 over the data axis: micro-batch 4 × 2 per replica', async () => {
    expect(relDiff(await losses(4, 4, 2, 2, 1), one)).toBeLessThan(1e-5);
  }, 250_000);
});
