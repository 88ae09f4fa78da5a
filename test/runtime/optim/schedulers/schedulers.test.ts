import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../../src/runtime/config/index.ts';
import { createScheduler, type LrSchedule } from '../../../../src/runtime/optim/index.ts';
import { dsOneCycle, dsWarmupCosineLR, dsWarmupDecayLR, dsWarmupLR, trace } from './reference.ts';

/** The schedule from a config's scheduler block, validated as a user's file would be. */
function fromConfig(scheduler: object, lr = 0.5): LrSchedule {
  const cfg = loadConfig({ train_micro_batch_size_per_gpu: 1, optimizer: { type: 'Adam', params: { lr } }, scheduler }, { dpWorldSize: 1 });
  return createScheduler(cfg.scheduler, lr);
}

function expectTrace(s: LrSchedule, want: number[]): void {
  want.forEach((w, k) => {
    if (Math.abs(s.lrAt(k) - w) > 1e-12 * Math.max(1, Math.abs(w))) throw new Error(`step ${k}: lrAt ${s.lrAt(k)}, DeepSpeed ${w}`);
  });
}

describe('lr schedulers against DeepSpeed driven step by step', () => {
  it('WarmupLR, log and linear, then constant', () => {
    expectTrace(fromConfig({ type: 'WarmupLR', params: { warmup_min_lr: 0.001, warmup_max_lr: 0.01, warmup_num_steps: 100 } }), trace(dsWarmupLR(0.001, 0.01, 100, 'log'), 300));
    expectTrace(fromConfig({ type: 'warmuplr', params: { warmup_num_steps: 10, warmup_type: 'linear' } }, 0.3), trace(dsWarmupLR(0, 0.3, 10, 'linear'), 40));
  });

  it('WarmupLR by hand: step k runs at min + (max − min)·ln(k)/ln(N)', () => {
    const s = fromConfig({ type: 'WarmupLR', params: { warmup_min_lr: 0, warmup_max_lr: 0.01, warmup_num_steps: 100 } });
    expect(s.lrAt(0)).toBe(0); // the constructor's value
    expect(s.lrAt(1)).toBe(0); // ln(1) = 0
    expect(s.lrAt(10)).toBeCloseTo((0.01 * Math.log(10)) / Math.log(100), 15);
    expect(s.lrAt(101)).toBe(0.01);
  });

  it('WarmupDecayLR: warm-up, then linear decay reaching 0 at total_num_steps', () => {
    expectTrace(
      fromConfig({ type: 'WarmupDecayLR', params: { warmup_max_lr: 0.1, warmup_num_steps: 10, warmup_type: 'linear', total_num_steps: 110 } }),
      trace(dsWarmupDecayLR(110, 0, 0.1, 10, 'linear'), 130),
    );
    const s = fromConfig({ type: 'WarmupDecayLR', params: { warmup_max_lr: 0.1, warmup_num_steps: 10, warmup_type: 'linear', total_num_steps: 110 } });
    expect(s.lrAt(61)).toBeCloseTo(0.1 * (50 / 100), 15); // it = 60: (110 − 60) / (110 − 10)
    expect(s.lrAt(111)).toBe(0);
    expect(s.lrAt(500)).toBe(0);
  });

  it('WarmupCosineLR: ratios of the optimizer lr, floor at cos_min_ratio', () => {
    expectTrace(
      fromConfig({ type: 'WarmupCosineLR', params: { warmup_num_steps: 10, warmup_type: 'linear', total_num_steps: 110, cos_min_ratio: 0.1, warmup_min_ratio: 0.05 } }),
      trace(dsWarmupCosineLR(0.5, 110, 0.05, 10, 0.1, 'linear'), 150),
    );
    expectTrace(fromConfig({ type: 'WarmupCosineLR', params: { total_num_steps: 3000 } }, 1e-3), trace(dsWarmupCosineLR(1e-3, 3000, 0, 1000, 0.0001, 'log'), 3100));
    const s = fromConfig({ type: 'WarmupCosineLR', params: { warmup_num_steps: 10, warmup_type: 'linear', total_num_steps: 110, cos_min_ratio: 0.1 } });
    expect(s.lrAt(0)).toBe(0);
    expect(s.lrAt(60)).toBeCloseTo(0.5 * (0.1 + 0.9 * 0.5), 15); // halfway through the cosine
    expect(s.lrAt(1000)).toBeCloseTo(0.05, 15);
  });

  it('OneCycle: up, down, then decay', () => {
    expectTrace(
      fromConfig({ type: 'OneCycle', params: { cycle_min_lr: 0.1, cycle_max_lr: 1, cycle_first_step_size: 10, cycle_second_step_size: 6, decay_lr_rate: 0.5, decay_step_size: 5 } }),
      trace(dsOneCycle(0.1, 1, 10, 6, 0.5, 5), 60),
    );
    const s = fromConfig({ type: 'OneCycle', params: { cycle_min_lr: 0.1, cycle_max_lr: 1, cycle_first_step_size: 10, decay_lr_rate: 1, decay_step_size: 5 } });
    expect(s.lrAt(10)).toBeCloseTo(1, 15); // top of the cycle
    expect(s.lrAt(15)).toBeCloseTo(0.55, 15);
    expect(s.lrAt(30)).toBeCloseTo(0.1 / (1 + 10 / 5), 15);
  });

  it('OneCycle cycles β1 the other way (DeepSpeed sets β2 to 0.99)', () => {
    const s = fromConfig({ type: 'OneCycle', params: { cycle_min_lr: 0.1, cycle_max_lr: 1, cycle_first_step_size: 10, cycle_min_mom: 0.85, cycle_max_mom: 0.95 } });
    expect(s.betasAt!(0)).toEqual([0.85, 0.99]);
    expect(s.betasAt!(10)![0]).toBeCloseTo(0.85, 15);
    expect(s.betasAt!(5)![0]).toBeCloseTo(0.9, 15);
    expect(s.betasAt!(20)).toEqual([0.95, 0.99]);
    expect(fromConfig({ type: 'OneCycle', params: { cycle_min_lr: 0.1, cycle_max_lr: 1, cycle_momentum: false } }).betasAt).toBeUndefined();
  });

  it('OneCycle stairs hold the lr flat within each stair', () => {
    const s = fromConfig({ type: 'OneCycle', params: { cycle_min_lr: 0, cycle_max_lr: 1, cycle_first_step_size: 10, cycle_first_stair_count: 2 } });
    expect([1, 4, 5, 9, 10, 14, 15, 19].map((k) => s.lrAt(k))).toEqual([0, 0, 0.5, 0.5, 1, 0.5, 0.5, 0]);
  });

  it('without a scheduler the lr is the optimizer lr', () => {
    const s = createScheduler(undefined, 0.003);
    expect([0, 1, 1e6].map((k) => s.lrAt(k))).toEqual([0.003, 0.003, 0.003]);
  });
});
