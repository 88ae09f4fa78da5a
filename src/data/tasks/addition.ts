/** Multi-digit addition: "123+45=168". Operands are uniform in [0, 10^digits), no leading zeros. */
import { InputError } from '../../errors.ts';
import type { Rng } from '../rng.ts';
import { Task, type TaskExample } from './task.ts';

export class AdditionTask extends Task {
  readonly name = 'addition';
  readonly digits: number;
  readonly maxChars: number;

  constructor(opts: { digits?: number } = {}) {
    super();
    const digits = opts.digits ?? 2;
    if (!Number.isInteger(digits) || digits < 1 || digits > 15) throw new InputError(`addition: digits must be an integer in 1..15, got ${digits}`);
    this.digits = digits;
    this.maxChars = 2 * digits + 2 + (digits + 1); // a+b= then the sum
  }

  example(rng: Rng): TaskExample {
    const limit = 10 ** this.digits;
    const a = rng.int(limit);
    const b = rng.int(limit);
    return { prompt: `${a}+${b}=`, answer: String(a + b) };
  }
}
