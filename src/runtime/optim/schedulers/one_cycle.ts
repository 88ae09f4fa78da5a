import type { LrSchedule, SchedulerParams } from './types.ts';

/**
 * OneCycle (Smith 2018) as DeepSpeed computes it. The cycle is cycle_first_step_size steps up
 * from cycle_min_lr to cycle_max_lr and cycle_second_step_size (default: the first) back down;
 * after it, lr = cycle_min_lr / (1 + decay_lr_rate · (it − size + 1) / decay_step_size)
 * (no decay when decay_step_size or decay_lr_rate is 0). Optional stair counts hold the lr flat
 * in that many stairs per half. With cycle_momentum (DeepSpeed's default: on) β1 moves the
 * other way, from cycle_max_mom down to cycle_min_mom and back, and β2 is set to 0.99, as
 * DeepSpeed does; after the cycle β1 = cycle_max_mom · (1 + decay_mom_rate · interval).
 * Step 0 runs at cycle_min_lr (and β1 = cycle_min_mom), the values DeepSpeed sets at construction.
 */
export function oneCycle(p: SchedulerParams, minLr: number, maxLr: number): LrSchedule {
  const first = p.cycle_first_step_size ?? 2000;
  const second = p.cycle_second_step_size ?? first;
  const size = first + second;
  const ratio = first / size;
  const stairs1 = p.cycle_first_stair_count ?? 0;
  const stairs2 = p.cycle_second_stair_count ?? stairs1;
  const decayStep = p.decay_step_size ?? 0;
  const decayLr = decayStep === 0 ? 0 : (p.decay_lr_rate ?? 0);
  const decayMom = decayStep === 0 ? 0 : (p.decay_mom_rate ?? 0);
  const minMom = p.cycle_min_mom ?? 0.8;
  const maxMom = p.cycle_max_mom ?? 0.9;

  /** Position in the cycle as a fraction of the amplitude, at batch iteration `it`. */
  const scale = (it: number): number => {
    const b = it + 1;
    const x = 1 + b / size - Math.floor(1 + b / size);
    let s = x <= ratio ? x / ratio : (x - 1) / (ratio - 1);
    const stairs = x <= ratio ? stairs1 : stairs2;
    if (stairs > 0) {
      const c = b % size;
      const pos = c <= first ? (c * stairs) / first : ((size - c) * stairs) / second;
      s = Math.floor(pos) / stairs;
    }
    return s;
  };
  const decayInterval = (it: number) => (it - size + 1) / decayStep;

  const lrAt = (step: number): number => {
    if (step <= 0) return minLr;
    const it = step - 1;
    if (it < size) return minLr + (maxLr - minLr) * scale(it);
    return decayLr === 0 ? minLr : minLr / (1 + decayLr * decayInterval(it));
  };
  if (p.cycle_momentum === false) return { lrAt };
  const betasAt = (step: number): readonly [number, number] => {
    if (step <= 0) return [minMom, 0.99];
    const it = step - 1;
    if (it < size) return [maxMom - (maxMom - minMom) * scale(it), 0.99];
    return [decayMom === 0 ? maxMom : maxMom * (1 + decayMom * decayInterval(it)), 0.99];
  };
  return { lrAt, betasAt };
}
