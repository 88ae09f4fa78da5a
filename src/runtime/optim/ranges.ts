import { DeepscaleError } from '../../errors.ts';
import type { OptimizerState, ParamRange } from './types.ts';

/**
 * The walk every optimizer's step makes: for each segment (parameter), its part inside this
 * optimizer's range [from, from + numel) as flat indices lo..hi, with the weight decay that applies
 * to it (0 where noDecay says so), and its index k. No segments: the whole range as one.
 */
export function eachSegment(
  segments: readonly ParamRange[],
  from: number,
  numel: number,
  weightDecay: number,
  noDecay: ((s: ParamRange) => boolean) | undefined,
  fn: (lo: number, hi: number, wd: number, k: number) => void,
): void {
  const segs = segments.length > 0 ? segments : [{ name: '<all>', offset: from, numel }];
  const to = from + numel;
  for (let k = 0; k < segs.length; k++) {
    const s = segs[k]!;
    const lo = Math.max(s.offset, from);
    const hi = Math.min(s.offset + s.numel, to);
    if (lo < hi) fn(lo, hi, noDecay?.(s) ? 0 : weightDecay, k);
  }
}

/** Checks a saved state against the buffers an optimizer expects, before anything is overwritten. */
export function checkState(s: OptimizerState, own: Record<string, Float32Array>, who: string): void {
  for (const [name, buf] of Object.entries(own)) {
    const got = s.buffers[name];
    if (!got) throw new DeepscaleError('state_error', `${who}.loadState: buffer '${name}' is missing (got ${Object.keys(s.buffers).join(', ') || 'none'})`);
    if (got.length !== buf.length) throw new DeepscaleError('state_error', `${who}.loadState: buffer '${name}' has ${got.length} elements, this optimizer owns ${buf.length}`);
  }
  if (!Number.isInteger(s.step) || s.step < 0) throw new DeepscaleError('state_error', `${who}.loadState: step must be a non-negative integer, got ${s.step}`);
}
