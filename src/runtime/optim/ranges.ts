import { DeepscaleError } from '../../errors.ts';
import type { OptimizerState, ParamRange } from './types.ts';

/** The segment list a step walks: the given one, or the whole range as one parameter when empty. */
export function wholeRange(from: number, numel: number): readonly ParamRange[] {
  return [{ name: '<all>', offset: from, numel }];
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
