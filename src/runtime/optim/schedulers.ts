import { ConfigError } from '../../errors.ts';
import type { DsConfig } from '../config/index.ts';

/** lr as a pure function of the optimizer step (0-based: the lr used by the first step is lrAt(0)). */
export interface LrSchedule {
  lrAt(step: number): number;
}

type SchedulerBlock = NonNullable<DsConfig['scheduler']>;
type P = SchedulerBlock['params'];

/** DeepSpeed's warm-up fraction at `step`: log (ln(step+1)/ln(N)) or linear (step/N), 1 after N. */
function warmupGamma(step: number, n: number, type: 'log' | 'linear'): number {
  if (step >= n) return 1;
  if (type === 'linear') return step / n;
  return n > 1 ? Math.log(step + 1) / Math.log(n) : 1;
}

function need(p: P, key: keyof P, type: string): number {
  const v = p[key];
  if (typeof v !== 'number') throw new ConfigError(`scheduler.params.${key}`, `${type} needs ${key}`);
  return v;
}

/** The schedule the config's `scheduler` block names (formulas of deepspeed/runtime/lr_schedules.py). */
export function createScheduler(block: SchedulerBlock | undefined, baseLr: number): LrSchedule {
  if (!block) return { lrAt: () => baseLr };
  const p = block.params;
  const warmN = p.warmup_num_steps ?? 1000;
  const wtype = p.warmup_type ?? 'log';
  switch (block.type) {
    case 'WarmupLR': {
      const lo = p.warmup_min_lr ?? 0;
      const hi = p.warmup_max_lr ?? 0.001;
      return { lrAt: (s) => lo + (hi - lo) * warmupGamma(s, warmN, wtype) };
    }
    case 'WarmupDecayLR': {
      const lo = p.warmup_min_lr ?? 0;
      const hi = p.warmup_max_lr ?? 0.001;
      const total = need(p, 'total_num_steps', 'WarmupDecayLR');
      if (total < warmN) throw new ConfigError('scheduler.params.total_num_steps', `total_num_steps ${total} is less than warmup_num_steps ${warmN}`);
      return {
        lrAt: (s) => {
          const gamma = s < warmN ? warmupGamma(s, warmN, wtype) : Math.max(0, (total - s) / Math.max(1, total - warmN));
          return lo + (hi - lo) * gamma;
        },
      };
    }
    case 'WarmupCosineLR': {
      const total = need(p, 'total_num_steps', 'WarmupCosineLR');
      const minRatio = p.warmup_min_ratio ?? 0;
      const cosMin = p.cos_min_ratio ?? 0.0001;
      if (total < warmN) throw new ConfigError('scheduler.params.total_num_steps', `total_num_steps ${total} is less than warmup_num_steps ${warmN}`);
      return {
        lrAt: (s) => {
          if (s < warmN) return baseLr * (minRatio + (1 - minRatio) * warmupGamma(s, warmN, wtype));
          const x = (s - warmN + 1) / Math.max(1, total - warmN);
          return baseLr * Math.max(0, cosMin + (1 - cosMin) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, x))));
        },
      };
    }
    case 'OneCycle': {
      const lo = need(p, 'cycle_min_lr', 'OneCycle');
      const hi = need(p, 'cycle_max_lr', 'OneCycle');
      const first = p.cycle_first_step_size ?? 2000;
      const second = p.cycle_second_step_size ?? first;
      const decayRate = p.decay_lr_rate ?? 0;
      const decayStep = p.decay_step_size ?? 0;
      const size = first + second;
      const ratio = first / size;
      return {
        lrAt: (s) => {
          if (s <= size) {
            const x = s / size;
            const scale = x <= ratio ? x / ratio : (x - 1) / (ratio - 1);
            return lo + (hi - lo) * scale;
          }
          if (decayStep === 0) return lo;
          return lo / (1 + decayRate * Math.floor((s - size) / decayStep));
        },
      };
    }
  }
}
