/**
 * Runs one API request's prompts through the engine and turns the engine's cumulative outputs
 * into per-choice deltas. Choice index = promptIndex * n + sample index (OpenAI's order for a
 * batch of prompts). Several prompts run at once and their events interleave as they come.
 */
import type { SampleLogprobs } from '../sampler/logprobs.ts';
import type { SamplingParams } from '../sampler/params.ts';
import type { RequestOutput, ServingEngine } from './engine.ts';

export interface ChoiceDelta {
  readonly index: number;
  readonly promptIndex: number;
  /** New text since the previous event of this choice. */
  readonly text: string;
  readonly tokenIds: readonly number[];
  readonly logprobs: readonly SampleLogprobs[] | null;
  readonly finishReason: 'stop' | 'length' | 'abort' | null;
  readonly stopReason: string | number | null;
}

export interface GenerationEvent {
  readonly promptIndex: number;
  readonly output: RequestOutput;
  readonly deltas: readonly ChoiceDelta[];
}

interface Cursor {
  text: number;
  tokens: number;
  finished: boolean;
}

/** Deltas of one engine output against what was already sent. */
function diff(output: RequestOutput, promptIndex: number, n: number, cursors: Map<number, Cursor>): ChoiceDelta[] {
  const deltas: ChoiceDelta[] = [];
  for (const o of output.outputs) {
    const c = cursors.get(o.index) ?? { text: 0, tokens: 0, finished: false };
    cursors.set(o.index, c);
    if (c.finished) continue;
    const text = o.text.slice(c.text);
    const tokenIds = o.tokenIds.slice(c.tokens);
    const logprobs = o.logprobs ? o.logprobs.slice(c.tokens) : null;
    if (text === '' && tokenIds.length === 0 && o.finishReason === null) continue;
    c.text = o.text.length;
    c.tokens = o.tokenIds.length;
    c.finished = o.finishReason !== null;
    deltas.push({ index: promptIndex * n + o.index, promptIndex, text, tokenIds, logprobs, finishReason: o.finishReason, stopReason: o.stopReason });
  }
  return deltas;
}

/**
 * Streams the events of all prompts. Breaking out of the loop, or `signal` aborting, returns
 * every engine iterator, which aborts their requests in the engine.
 */
export interface PromptJob {
  readonly promptTokenIds: readonly number[];
  /** Per prompt: max_tokens depends on the prompt's length. n is the same for all. */
  readonly params: SamplingParams;
}

export async function* generateAll(
  engine: ServingEngine,
  prompts: readonly PromptJob[],
  requestId: string,
  signal: AbortSignal,
): AsyncGenerator<GenerationEvent> {
  const ids = prompts.map((_, i) => (prompts.length === 1 ? requestId : `${requestId}-${i}`));
  const iters: AsyncIterator<RequestOutput>[] = [];
  const cursors = prompts.map(() => new Map<number, Cursor>());
  const done = new Set<number>();
  type Next = { i: number; r: IteratorResult<RequestOutput> };
  const pending = new Map<number, Promise<Next>>();
  const pull = (i: number) => pending.set(i, iters[i]!.next().then((r) => ({ i, r })));
  try {
    // Inside the try: if prompt k is refused, prompts 0 … k-1 are already in the engine and must leave.
    prompts.forEach((p, i) => iters.push(engine.generate(p.promptTokenIds, p.params, ids[i]!, signal)[Symbol.asyncIterator]()));
    prompts.forEach((_, i) => pull(i));
    while (pending.size > 0) {
      const { i, r } = await Promise.race(pending.values());
      pending.delete(i);
      if (r.done) {
        done.add(i);
        continue;
      }
      yield { promptIndex: i, output: r.value, deltas: diff(r.value, i, prompts[i]!.params.n, cursors[i]!) };
      if (r.value.finished) done.add(i);
      else pull(i);
    }
  } finally {
    // Early exit (client gone, error): stop whatever still runs.
    for (const p of pending.values()) p.catch(() => {}); // a rejection there no longer has a reader
    iters.forEach((it, i) => {
      if (done.has(i)) return;
      void it.return?.()?.catch(() => {});
      engine.abort(ids[i]!);
    });
  }
}
