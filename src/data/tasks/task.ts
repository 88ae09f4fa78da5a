/**
 * A synthetic task: seeded examples split into a prompt and an answer, and exact-match
 * evaluation of a generator. Examples are plain strings over a small alphabet, tokenized with
 * `taskTokenizer()` (one id per character).
 */
import { InputError } from '../../errors.ts';
import { Rng } from '../rng.ts';
import { CharTokenizer } from '../tokenizer/char.ts';

export interface TaskExample {
  /** What the model is given, e.g. "12+45=". */
  readonly prompt: string;
  /** What it must produce after the prompt, e.g. "57". */
  readonly answer: string;
}

/** Generates completions for prompts (the model, greedy decoding, stopping at eos). */
export type GenerateFn = (prompts: string[]) => Promise<string[]>;

/** Letters, digits and the task operators: the shared alphabet of every task. */
export const TASK_ALPHABET = '0123456789+=>abcdefghijklmnopqrstuvwxyz';

/** The character tokenizer for all tasks: pad 0, bos 1, eos 2, then TASK_ALPHABET (vocab 42). */
export function taskTokenizer(): CharTokenizer {
  return CharTokenizer.fromAlphabet(TASK_ALPHABET);
}

export abstract class Task {
  abstract readonly name: string;
  /** Longest prompt + answer, in characters (for choosing seqLen: it needs maxChars + 2 for bos/eos). */
  abstract readonly maxChars: number;
  abstract example(rng: Rng): TaskExample;

  /** `n` examples from `seed`; the same seed always gives the same list. */
  examples(n: number, seed: number): TaskExample[] {
    const rng = new Rng(seed);
    return Array.from({ length: n }, () => this.example(rng));
  }

  /**
   * Exact-match accuracy of `generate` on `n` examples drawn from `seed` (use a seed that
   * training does not use). A completion counts when it equals the answer exactly.
   */
  async evaluate(generate: GenerateFn, n: number, seed: number): Promise<number> {
    if (!Number.isInteger(n) || n <= 0) throw new InputError(`${this.name}.evaluate: n must be a positive integer, got ${n}`);
    const ex = this.examples(n, seed);
    const got = await generate(ex.map((e) => e.prompt));
    if (got.length !== n) throw new InputError(`${this.name}.evaluate: generate returned ${got.length} completions for ${n} prompts`);
    let correct = 0;
    ex.forEach((e, i) => {
      if (got[i] === e.answer) correct++;
    });
    return correct / n;
  }
}
