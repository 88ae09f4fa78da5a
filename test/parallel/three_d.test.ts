/**
 * 3D parallelism's contract: every (data, tensor, pipe) layout trains the 4-layer GQA model with
 * tied embeddings to the 1-rank loss curve over 10 steps (same global batch, same seed), with
 * ZeRO-1 (and ZeRO-2 for tp) over the data axis, and scores a held-out batch to the 1-rank loss.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const FIXTURE = 'test/parallel/fixtures/grid_losses.ts';
const STEPS = 10;
const GLOBAL = 16; // sequences per step: micro-batch × grad-accum × dp
let port = 30100 + Math.floor(Math.random() * 300);

interface Run { losses: number[]; evalLoss: number; numel: number; tensorsAfter: number[]; profile: Record<string, number> }

async function run(dp: number, tp: number, pp: number, zero = 0, recompute = false): Promise<Run> {
  const gas = Math.max(2, pp); // a pipeline needs micro-batches to fill it
  const micro = GLOBAL / (gas * dp);
  const { stdout } = await promisify(execFile)('node', ['bin/ds-launch.js', '--num_procs', String(dp * tp * pp), '--master_port', String(port++), FIXTURE, String(micro), String(gas), String(STEPS), String(pp), String(tp), String(zero), recompute ? '1' : '0'], {
    encoding: 'utf8', timeout: 280_000, env: { ...process.env, DS_LOG_LEVEL: 'warn' },
  });
  const line = stdout.split('\n').find((l) => l.includes('"losses"'))!;
  return JSON.parse(line.replace(/^\[rank \d+\] /, '')) as Run;
}

const relDiff = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!) / Math.abs(b[i]!)));

describe('3D parallelism (data × tensor × pipe) gives the 1-rank losses', () => {
  let one: Run;
  beforeAll(async () => {
    one = await run(1, 1, 1);
    expect(one.losses).toHaveLength(STEPS);
    expect(one.losses[STEPS - 1]!).toBeLessThan(one.losses[0]! * 0.8); // it learns: a flat curve would match anything
  }, 300_000);

  const layouts: [number, number, number, number, boolean?][] = [
    [2, 1, 1, 0], [1, 2, 1, 0], [1, 1, 2, 0], [2, 2, 1, 1], [1, 2, 2, 0], [2, 1, 2, 1], [2, 2, 2, 1],
    [1, 4, 1, 0], // 4 tp ranks over 2 kv heads: each kv head replicated on 2 ranks
    [1, 1, 4, 0], // 4 stages over the 10-layer list
    [2, 2, 1, 2], // ZeRO-2 over the data axis of a tp group
    [1, 2, 2, 0, true], // activation checkpointing: each layer recomputed in backward
  ];
  for (const [dp, tp, pp, zero, recompute] of layouts) {
    it(`(dp, tp, pp) = (${dp}, ${tp}, ${pp})${zero ? ` with ZeRO-${zero} over the data axis` : ''}${recompute ? ', activation checkpointing' : ''}`, async () => {
      const r = await run(dp, tp, pp, zero, recompute);
      expect(relDiff(r.losses, one.losses)).toBeLessThan(1e-5);
      expect(Math.abs(r.evalLoss - one.evalLoss) / one.evalLoss).toBeLessThan(1e-5);
      // Rank 0 holds its slice only: fewer parameters than the whole model (so the split did happen).
      if (tp * pp > 1) expect(r.numel).toBeLessThan(one.numel);
      // The profiler on rank 0 sees its stage's layers only, each block's matmuls split tp ways (MACs per sequence).
      const names = Object.keys(r.profile);
      if (pp === 1) expect(names).toEqual(Object.keys(one.profile));
      else expect(names.length).toBeLessThan(Object.keys(one.profile).length);
      for (const n of names.filter((x) => x.startsWith('layers.'))) {
        // 2 kv heads over 4 ranks: each rank projects a whole kv head, more than a quarter of k and v.
        if (n.endsWith('.attn') && tp > 2) expect(r.profile[n]! * tp).toBeGreaterThan(one.profile[n]!);
        else expect(r.profile[n]! * tp).toBe(one.profile[n]!);
      }
      // No tensor outlives a step on rank 0 (activations, received tensors, tapes all freed).
      expect(new Set(r.tensorsAfter.slice(1)).size).toBe(1);
    }, 300_000);
  }
});
