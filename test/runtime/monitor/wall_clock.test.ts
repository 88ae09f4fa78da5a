/** WallClock against a fake clock: per-step sums, window means, the DeepSpeed-style line. */
import { expect, it } from 'vitest';
import { WallClock } from '../../../src/runtime/monitor/index.ts';

function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

it('sums intervals within a step, averages over steps, resets', () => {
  const c = fakeClock();
  const wc = new WallClock({ now: c.now });
  const step = (fwdPerLayer: number, bwd: number, comm: number, optim: number): Record<string, number> => {
    for (let layer = 0; layer < 3; layer++) wc.time('forward', () => c.advance(fwdPerLayer));
    wc.start('backward');
    c.advance(bwd);
    wc.stop('backward');
    wc.start('comm');
    c.advance(comm);
    expect(wc.stop('comm')).toBe(comm);
    wc.start('optimizer');
    c.advance(optim);
    wc.stop('optimizer');
    return wc.endStep();
  };
  expect(step(2, 10, 4, 1)).toEqual({ forward_ms: 6, backward_ms: 10, comm_ms: 4, optimizer_ms: 1 });
  expect(step(4, 20, 0.5, 2)).toEqual({ forward_ms: 12, backward_ms: 20, comm_ms: 0.5, optimizer_ms: 2 });
  expect(wc.means()).toEqual({ forward: 9, backward: 15, comm: 2.25, optimizer: 1.5 });
  expect(wc.format()).toBe('fwd: 9.00 ms | bwd: 15.00 ms | comm: 2.25 ms | optim: 1.50 ms');
  wc.reset();
  step(1, 1, 1, 1);
  expect(wc.format()).toBe('fwd: 3.00 ms | bwd: 1.00 ms | comm: 1.00 ms | optim: 1.00 ms');
});

it('orders the standard timers first, then others; misuse is an assertion', () => {
  const c = fakeClock();
  const wc = new WallClock({ now: c.now });
  wc.time('data', () => c.advance(5));
  wc.time('optimizer', () => c.advance(1));
  wc.time('forward', () => c.advance(2));
  expect(Object.keys(wc.endStep())).toEqual(['forward_ms', 'optimizer_ms', 'data_ms']);
  expect(wc.format()).toBe('fwd: 2.00 ms | optim: 1.00 ms | data: 5.00 ms');
  expect(() => wc.stop('backward')).toThrow(/"backward" stopped without start/);
  wc.start('comm');
  expect(() => wc.start('comm')).toThrow(/started twice/);
  expect(() => wc.endStep()).toThrow(/still running: comm/);
});
