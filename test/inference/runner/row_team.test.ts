/** RowTeam's bookkeeping on the main thread alone (model_runner.test.ts runs it with real worker threads). */
import { describe, expect, it } from 'vitest';
import { chunking, RowTeam, type RowJob } from '../../../src/inference/runner/row_team.ts';

describe('RowTeam', () => {
  it('hands out every row of a product exactly once, in chunks of a multiple of 16 rows', () => {
    const team = new RowTeam(RowTeam.buffer());
    for (const N of [1, 16, 100, 768, 6144]) {
      const seen = new Int32Array(N);
      const job: RowJob = { matrix: 3, aOff: 64, cOff: 128, M: 1, q8Off: 256, ...chunking(N, 2) };
      team.run(job, () => {}, (j, r0, r1) => {
        expect(j).toEqual(job);
        expect(r0 % 16).toBe(0);
        for (let r = r0; r < r1; r++) seen[r]!++;
      }, N, 2);
      expect([...seen].every((n) => n === 1), `N ${N}`).toBe(true);
    }
    expect(chunking(768, 2)).toEqual({ chunks: 8, chunkRows: 96 });
  });

  it('a chunk that throws fails the product by name, and the next product runs', () => {
    const team = new RowTeam(RowTeam.buffer());
    const job: RowJob = { matrix: 5, aOff: 0, cOff: 0, M: 2, q8Off: 0, ...chunking(64, 2) };
    expect(() => team.run(job, () => {}, (_, r0) => { if (r0 === 16) throw new Error('trap'); }, 64, 2)).toThrow(/failed on rows of product 5 \(2 × 64\)/);
    let rows = 0;
    team.run(job, () => {}, (_, r0, r1) => void (rows += r1 - r0), 64, 2);
    expect(rows).toBe(64);
  });

  it('pauses splitting when the other threads take under half their share of a window of products', () => {
    const team = new RowTeam(RowTeam.buffer());
    const job: RowJob = { matrix: 0, aOff: 0, cOff: 0, M: 1, q8Off: 0, ...chunking(256, 2) };
    for (let i = 0; i < 63; i++) team.run(job, () => {}, () => {}, 256, 2);
    expect(team.active).toBe(true);
    team.run(job, () => {}, () => {}, 256, 2); // the 64th: nobody else took a chunk
    expect(team.active).toBe(false);
    expect(team.pauses).toBe(1);
  });
});
