import { expect, it } from 'vitest';
import { formatDuration, formatStepLine } from '../../../src/runtime/monitor/index.ts';

it('formats a steps_per_print line', () => {
  expect(formatStepLine({ step: 10, total: 100, loss: 1.2344, lr: 1e-3, tokensPerSec: 5399.6, gradNorm: 0.8 })).toBe(
    'step 10/100 | loss 1.234 | lr 1.0e-3 | 5400 tok/s | grad_norm 0.8',
  );
  expect(formatStepLine({ step: 3, loss: 10.5, lr: 3e-4, gradNorm: 12.345 })).toBe('step 3 | loss 10.500 | lr 3.0e-4 | grad_norm 12.3');
  expect(formatStepLine({ step: 1, total: 2, loss: NaN })).toBe('step 1/2 | loss NaN');
});

it('formats durations for ETAs', () => {
  expect([0, 44_600, 185_000, 3_720_000, -1, NaN].map(formatDuration)).toEqual(['0s', '45s', '3m05s', '1h02m', '?', '?']);
});
