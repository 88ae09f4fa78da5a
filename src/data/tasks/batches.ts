/**
 * Training batches for a synthetic task. One row holds T+1 tokens s[0..T]:
 *
 *   s:      <bos> 1 2 + 4 5 = 5 7 <eos> <pad> <pad> ...     (pack: the next <bos> example follows <eos>)
 *   input:  s[0..T-1]               [B*T], row-major, row b at [b*T, (b+1)*T)
 *   target: s[1..T]  (next token)   [B*T]
 *   mask:   1 where target is an answer token or the <eos> that ends it, else 0   [B*T]
 *
 * The loss sees only the answers: the prompt digits are random and unpredictable, so
 * training on them only adds noise; that is what makes addition learnable in minutes.
 *
 * Data parallel: every rank draws the same global batch of worldSize*batchSize rows from one
 * seeded stream and keeps rows [rank*B, (rank+1)*B), so N ranks see exactly what one rank
 * with batch N*B would see.
 */
import { InputError } from '../../errors.ts';
import { Rng } from '../rng.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import { taskTokenizer, type Task } from './task.ts';

export interface TaskBatch {
  readonly input: Int32Array; // [B*T]
  readonly target: Int32Array; // [B*T]
  readonly mask: Float32Array; // [B*T]
}

export interface TaskBatchOptions {
  task: Task;
  /** T: tokens per row fed to the model. Must be at least task.maxChars + 1. */
  seqLen: number;
  /** Rows per rank per batch (B). */
  batchSize: number;
  seed: number;
  rank?: number;
  worldSize?: number;
  /** Put several whole examples in a row (fewer pad tokens); default false: one example per row. */
  pack?: boolean;
  /** Default: taskTokenizer(). */
  tokenizer?: Tokenizer;
}

/** Tokens of one example and which of them are loss targets: [ids, isAnswer]. */
function exampleTokens(tok: Tokenizer, prompt: string, answer: string, bos: number, eos: number): [number[], boolean[]] {
  const p = tok.encode(prompt);
  const a = tok.encode(answer);
  const ids = [bos, ...p, ...a, eos];
  const isAnswer = ids.map((_, i) => i > p.length); // answer tokens and eos
  return [ids, isAnswer];
}

/** An endless stream of batches; the same options always give the same batches. */
export function* taskBatches(opts: TaskBatchOptions): Generator<TaskBatch, never> {
  const { task, seqLen: T, batchSize: B, seed } = opts;
  const rank = opts.rank ?? 0;
  const world = opts.worldSize ?? 1;
  const tok = opts.tokenizer ?? taskTokenizer();
  if (!Number.isInteger(B) || B < 1) throw new InputError(`taskBatches: batchSize must be a positive integer, got ${B}`);
  if (!Number.isInteger(world) || world < 1 || !Number.isInteger(rank) || rank < 0 || rank >= world) {
    throw new InputError(`taskBatches: need 0 <= rank < worldSize, got rank ${rank}, worldSize ${world}`);
  }
  if (!Number.isInteger(T) || T < task.maxChars + 1) {
    throw new InputError(`taskBatches: seqLen ${T} is too short for ${task.name}: an example takes up to ${task.maxChars + 2} tokens (bos + ${task.maxChars} characters + eos), so seqLen must be at least ${task.maxChars + 1}`);
  }
  const { bos, eos, pad } = tok.special;
  if (bos === null || eos === null || pad === null) throw new InputError('taskBatches: the tokenizer needs bos, eos and pad tokens');

  const rng = new Rng(seed);
  let pending: [number[], boolean[]] | null = null;
  const next = (): [number[], boolean[]] => {
    if (pending) {
      const e = pending;
      pending = null;
      return e;
    }
    const ex = task.example(rng);
    return exampleTokens(tok, ex.prompt, ex.answer, bos, eos);
  };
  const s = new Int32Array(T + 1);
  const answer = new Uint8Array(T + 1);
  for (;;) {
    const input = new Int32Array(B * T);
    const target = new Int32Array(B * T);
    const mask = new Float32Array(B * T);
    for (let row = 0; row < world * B; row++) {
      s.fill(pad);
      answer.fill(0);
      let used = 0;
      do {
        const [ids, isAns] = next();
        if (used + ids.length > T + 1) {
          pending = [ids, isAns];
          break;
        }
        s.set(ids, used);
        isAns.forEach((v, i) => (answer[used + i] = v ? 1 : 0));
        used += ids.length;
      } while (opts.pack);
      const b = row - rank * B;
      if (b < 0 || b >= B) continue;
      for (let t = 0; t < T; t++) {
        input[b * T + t] = s[t]!;
        target[b * T + t] = s[t + 1]!;
        mask[b * T + t] = answer[t + 1]!;
      }
    }
    yield { input, target, mask };
  }
}
