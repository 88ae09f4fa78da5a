import { ConfigError } from '../../errors.ts';

export interface BatchSizes {
  readonly train_batch_size: number;
  readonly train_micro_batch_size_per_gpu: number;
  readonly gradient_accumulation_steps: number;
}

/**
 * DeepSpeed's batch rule: train_batch_size = micro × gradient_accumulation_steps × dp size.
 * Any two give the third. One alone follows DeepSpeed: micro alone → gas 1; train_batch_size
 * alone → gas 1, micro = train_batch_size / dp. All three must agree.
 */
export function resolveBatch(
  given: { train_batch_size?: number; train_micro_batch_size_per_gpu?: number; gradient_accumulation_steps?: number },
  dp: number,
  where: string,
): BatchSizes {
  if (!Number.isInteger(dp) || dp < 1) throw new ConfigError('', `data-parallel size must be a positive integer, got ${dp} (${where})`);
  const { train_batch_size: tbs, train_micro_batch_size_per_gpu: micro, gradient_accumulation_steps: gas } = given;
  const out = (t: number, m: number, g: number): BatchSizes => ({ train_batch_size: t, train_micro_batch_size_per_gpu: m, gradient_accumulation_steps: g });
  const whole = (x: number, what: string): number => {
    if (!Number.isInteger(x) || x < 1) throw new ConfigError('train_batch_size', `${what} (${where})`);
    return x;
  };

  if (tbs !== undefined && micro !== undefined && gas !== undefined) {
    if (tbs !== micro * gas * dp)
      throw new ConfigError(
        'train_batch_size',
        `train_batch_size ${tbs} != train_micro_batch_size_per_gpu ${micro} × gradient_accumulation_steps ${gas} × data-parallel size ${dp} = ${micro * gas * dp} (${where})`,
      );
    return out(tbs, micro, gas);
  }
  if (tbs !== undefined && micro !== undefined)
    return out(tbs, micro, whole(tbs / (micro * dp), `train_batch_size ${tbs} is not a multiple of train_micro_batch_size_per_gpu ${micro} × data-parallel size ${dp} = ${micro * dp}`));
  if (tbs !== undefined && gas !== undefined)
    return out(tbs, whole(tbs / (gas * dp), `train_batch_size ${tbs} is not a multiple of gradient_accumulation_steps ${gas} × data-parallel size ${dp} = ${gas * dp}`), gas);
  if (micro !== undefined) return out(micro * (gas ?? 1) * dp, micro, gas ?? 1);
  if (tbs !== undefined) return out(tbs, whole(tbs / dp, `train_batch_size ${tbs} is not a multiple of data-parallel size ${dp}`), 1);
  throw new ConfigError('train_batch_size', `set train_batch_size or train_micro_batch_size_per_gpu (${where})`);
}
