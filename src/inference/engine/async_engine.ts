import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { InvalidRequestError } from '../../errors.ts';
import type { Tokenizer } from '../../data/tokenizer/types.ts';
import type { LoadedModel } from '../loaders/types.ts';
import type { SamplingParams } from '../sampler/params.ts';
import type { EngineConfigInput } from './config.ts';
import type { RunnerFactory } from '../runner/types.ts';
import { LLMEngine } from './llm_engine.ts';
import type { EngineStats, RequestOutput } from './outputs.ts';

/** The outputs of one request on their way to its reader. */
class OutputStream {
  private readonly queue: RequestOutput[] = [];
  private wake: (() => void) | null = null;
  error: Error | null = null;
  done = false;

  push(o: RequestOutput): void {
    this.queue.push(o);
    if (o.finished) this.done = true;
    this.wake?.();
  }

  fail(err: Error): void {
    this.error = err;
    this.done = true;
    this.wake?.();
  }

  async *iterate(): AsyncGenerator<RequestOutput> {
    for (;;) {
      while (this.queue.length > 0) {
        const o = this.queue.shift()!;
        yield o;
        if (o.finished) return;
      }
      if (this.error) throw this.error;
      if (this.done) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }
}

/**
 * LLMEngine behind an async API: one engine loop runs steps while there is work and yields to
 * the event loop between steps, so new requests, aborts and socket writes get their turn.
 * Each `generate` streams its request's cumulative outputs; leaving the loop early (return())
 * or aborting `signal` aborts the request and frees its blocks.
 */
export class AsyncLLMEngine {
  readonly engine: LLMEngine;
  private readonly streams = new Map<string, OutputStream>();
  private loop: Promise<void> | null = null;
  private stopped = false;
  /** Set when the engine loop died: every stream got it, the server reports unhealthy. */
  error: Error | null = null;

  /** `engine`: one made by LLMEngine.create (AsyncLLMEngine.create does that), else built here. */
  constructor(model: LoadedModel, config: EngineConfigInput = {}, engine?: LLMEngine) {
    this.engine = engine ?? new LLMEngine(model, config);
  }

  /** The constructor without holding the event loop while the model is placed and the runner threads start. */
  static async create(model: LoadedModel, config: EngineConfigInput = {}, makeRunner?: RunnerFactory): Promise<AsyncLLMEngine> {
    return new AsyncLLMEngine(model, config, await LLMEngine.create(model, config, makeRunner));
  }

  get tokenizer(): Tokenizer {
    return this.engine.tokenizer;
  }
  get maxModelLen(): number {
    return this.engine.maxModelLen;
  }
  get vocabSize(): number {
    return this.engine.vocabSize;
  }
  get eosTokenId(): number | null {
    return this.engine.eosTokenId;
  }

  /** Adds the request now (so a bad one throws here, before any await) and streams its outputs. */
  generate(prompt: string | readonly number[], params: SamplingParams, requestId: string, signal?: AbortSignal): AsyncIterable<RequestOutput> {
    if (this.error) throw this.error;
    if (this.stopped) throw new InvalidRequestError('the engine is shut down', null, 503);
    if (signal?.aborted) throw new InvalidRequestError(`request ${requestId} was aborted before it started`, null, 499);
    this.engine.addRequest(requestId, prompt, params);
    const stream = new OutputStream();
    this.streams.set(requestId, stream);
    const onAbort = () => this.abort(requestId);
    signal?.addEventListener('abort', onAbort, { once: true });
    this.kick();
    const self = this;
    return (async function* () {
      try {
        yield* stream.iterate();
      } finally {
        signal?.removeEventListener('abort', onAbort);
        if (self.streams.has(requestId)) self.abort(requestId); // the reader left early
      }
    })();
  }

  abort(requestId: string): void {
    const stream = this.streams.get(requestId);
    this.streams.delete(requestId);
    const last = this.engine.abortRequest(requestId);
    if (stream && last) stream.push({ ...last, finished: true });
  }

  stats(): EngineStats {
    return this.engine.stats();
  }

  /** Aborts what still runs, waits for the loop to stop, frees the weights. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const id of [...this.streams.keys()]) this.abort(id);
    await this.loop;
    this.engine.dispose();
  }

  private kick(): void {
    if (this.loop === null) this.loop = this.run().finally(() => (this.loop = null));
  }

  private async run(): Promise<void> {
    while (!this.stopped && this.engine.hasUnfinished()) {
      try {
        for (const o of this.engine.step()) {
          const stream = this.streams.get(o.requestId);
          if (!stream) continue;
          stream.push(o);
          if (o.finished) this.streams.delete(o.requestId);
        }
      } catch (err) {
        this.error = err as Error;
        for (const s of this.streams.values()) s.fail(this.error);
        this.streams.clear();
        return;
      }
      await yieldToEventLoop();
    }
  }
}
