/** The progress bar's output in non-TTY (lines every interval) and TTY (redrawn with \r) modes. */
import { expect, it } from 'vitest';
import { ProgressBar } from '../../../src/runtime/monitor/index.ts';

function sink(isTTY: boolean): { out: string[]; stream: { isTTY: boolean; write: (s: string) => boolean } } {
  const out: string[] = [];
  return { out, stream: { isTTY, write: (s: string) => (out.push(s), true) } };
}

it('non-TTY: a full line every intervalMs and at the last step, with ETA from the mean step time', () => {
  let t = 0;
  const { out, stream } = sink(false);
  const bar = new ProgressBar({ total: 100, stream, intervalMs: 10_000, now: () => t });
  for (let step = 1; step <= 100; step++) {
    t += 1000; // one second per step
    bar.update({ step, loss: 5 - step / 50, lr: 1e-3, tokensPerSec: 2048 });
  }
  bar.finish();
  // Printed at steps 1, 11, 21, …, 91 (10 s apart) and 100 (the last).
  expect(out.length).toBe(11);
  expect(out.every((l) => l.endsWith('\n') && !l.includes('\r'))).toBe(true);
  expect(out[0]).toBe('step 1/100 [--------------------] loss 4.980 | lr 1.0e-3 | 2048 tok/s | ETA 1m39s\n');
  expect(out[1]).toBe('step 11/100 [##------------------] loss 4.780 | lr 1.0e-3 | 2048 tok/s | ETA 1m29s\n');
  expect(out[10]).toBe('step 100/100 [####################] loss 3.000 | lr 1.0e-3 | 2048 tok/s | ETA 0s\n');
});

it('non-TTY: finish prints the last state when the interval had held it back', () => {
  let t = 0;
  const { out, stream } = sink(false);
  const bar = new ProgressBar({ total: 50, startStep: 20, stream, intervalMs: 10_000, now: () => t });
  t = 500;
  bar.update({ step: 21 });
  t = 1000;
  bar.update({ step: 22 });
  bar.finish(); // stopped early (e.g. an error): the reader still sees step 22
  // ETA counts only this run's steps (resumed at 20): 500 ms per step × 28 left.
  expect(out).toEqual(['step 21/50 [########------------] ETA 15s\n', 'step 22/50 [#########-----------] ETA 14s\n']);
});

it('TTY: redrawn in place with \\r and clear-to-end, newline only at finish', () => {
  let t = 0;
  const { out, stream } = sink(true);
  const bar = new ProgressBar({ total: 4, stream, now: () => t });
  for (let step = 1; step <= 4; step++) {
    t += 200;
    bar.update({ step, loss: 1 });
  }
  bar.finish();
  expect(out.length).toBe(5);
  expect(out.slice(0, 4).every((s) => s.startsWith('\r') && s.endsWith('\x1b[K') && !s.includes('\n'))).toBe(true);
  expect(out[3]).toBe('\rstep 4/4 [####################] loss 1.000 | ETA 0s\x1b[K');
  expect(out[4]).toBe('\n');
});

it('disabled (ranks other than 0): prints nothing', () => {
  const { out, stream } = sink(false);
  const bar = new ProgressBar({ total: 3, stream, enabled: false });
  for (let step = 1; step <= 3; step++) bar.update({ step, loss: 1 });
  bar.finish();
  expect(out).toEqual([]);
});
