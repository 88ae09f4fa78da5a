/**
 * DeepSpeed's schedulers as the engine drives them, written as the stateful objects of
 * deepspeed/runtime/lr_schedules.py: the constructor sets an lr (last_batch_iteration = −1),
 * each optimizer step runs at the current lr, then scheduler.step() advances
 * last_batch_iteration and recomputes it. `trace(n)` is the lr of optimizer steps 0 … n−1.
 */
export interface DsLikeScheduler {
  initialLr(): number;
  getLr(last: number): number;
}

export function trace(s: DsLikeScheduler, n: number): number[] {
  const out: number[] = [];
  let lr = s.initialLr();
  for (let last = -1; out.length < n; ) {
    out.push(lr); // optimizer.step() uses the current lr
    last += 1; // lr_scheduler.step()
    lr = s.getLr(last);
  }
  return out;
}

function gamma(last: number, n: number, type: string): number {
  return type === 'log' ? (1 / Math.log(n)) * Math.log(last + 1) : last / n;
}

export function dsWarmupLR(minLr: number, maxLr: number, steps: number, type: string): DsLikeScheduler {
  const n = Math.max(2, steps);
  return {
    initialLr: () => minLr,
    getLr: (last) => minLr + (maxLr - minLr) * (last < n ? gamma(last, n, type) : 1),
  };
}

export function dsWarmupDecayLR(total: number, minLr: number, maxLr: number, steps: number, type: string): DsLikeScheduler {
  const n = Math.max(2, steps);
  return {
    initialLr: () => minLr,
    getLr: (last) => minLr + (maxLr - minLr) * (last < n ? gamma(last, n, type) : Math.max(0, (total - last) / Math.max(1, total - n))),
  };
}

export function dsWarmupCosineLR(orgLr: number, total: number, minRatio: number, steps: number, cosMin: number, type: string): DsLikeScheduler {
  const n = Math.max(2, steps);
  return {
    initialLr: () => 0,
    getLr: (last) => {
      if (last < n) return orgLr * (minRatio + gamma(last, n, type) * (1 - minRatio));
      const progress = Math.min(1, (last - n + 1) / Math.max(1, total - n));
      return orgLr * Math.max(0, cosMin + (1 - cosMin) * ((1 + Math.cos(Math.PI * progress)) / 2));
    },
  };
}

export function dsOneCycle(minLr: number, maxLr: number, first: number, second: number, decayRate: number, decayStep: number): DsLikeScheduler {
  const total = first + second;
  const stepRatio = first / total;
  return {
    initialLr: () => minLr,
    getLr: (last) => {
      if (last < total) {
        const b = last + 1;
        const cycle = Math.floor(1 + b / total);
        const x = 1 + b / total - cycle;
        const sf = x <= stepRatio ? x / stepRatio : (x - 1) / (stepRatio - 1);
        return minLr + (maxLr - minLr) * sf;
      }
      if (decayStep === 0 || decayRate === 0) return minLr;
      return minLr / (1 + decayRate * ((last - total + 1) / decayStep));
    },
  };
}
