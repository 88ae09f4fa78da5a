/** String reversal: "abc>cba". Strings of lowercase letters, length uniform in [minLength, maxLength]. */
import { InputError } from '../../errors.ts';
import type { Rng } from '../rng.ts';
import { Task, type TaskExample } from './task.ts';

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

export class ReversalTask extends Task {
  readonly name = 'reversal';
  readonly minLength: number;
  readonly maxLength: number;
  readonly maxChars: number;

  constructor(opts: { minLength?: number; maxLength?: number } = {}) {
    super();
    const minLength = opts.minLength ?? 1;
    const maxLength = opts.maxLength ?? 8;
    if (!Number.isInteger(minLength) || !Number.isInteger(maxLength) || minLength < 1 || maxLength < minLength) {
      throw new InputError(`reversal: need integers 1 <= minLength <= maxLength, got minLength ${minLength}, maxLength ${maxLength}`);
    }
    this.minLength = minLength;
    this.maxLength = maxLength;
    this.maxChars = 2 * maxLength + 1;
  }

  example(rng: Rng): TaskExample {
    const len = this.minLength + rng.int(this.maxLength - this.minLength + 1);
    let s = '';
    for (let i = 0; i < len; i++) s += LETTERS[rng.int(LETTERS.length)];
    return { prompt: `${s}>`, answer: [...s].reverse().join('') };
  }
}
