/**
 * A ServingEngine for the server's tests: the real scheduler, KV cache manager, block pool,
 * sampler and stop checker, with a toy model in place of the transformer. The toy model's
 * logits depend only on the last token and its position (toyLogits), so a test can compute
 * the reference logprobs itself. Steps run one per macrotask (`stepDelayMs` apart), so
 * streams interleave and a client can leave mid-stream.
 */
import type { Tokenizer } from '../../../../src/data/tokenizer/types.ts';
import { BlockPool } from '../../../../src/inference/kv/block_pool.ts';
import { KvCacheManager } from '../../../../src/inference/kv/manager.ts';
import { makeGenerator, SeedSource, type SamplerRng } from '../../../../src/inference/sampler/generator.ts';
import type { SampleLogprobs } from '../../../../src/inference/sampler/logprobs.ts';
import type { SamplingParams } from '../../../../src/inference/sampler/params.ts';
import { Sampler } from '../../../../src/inference/sampler/sampler.ts';
import { SequenceStopper } from '../../../../src/inference/sampler/stop.ts';
import { Scheduler } from '../../../../src/inference/scheduler/scheduler.ts';
import type { EngineStats, RequestOutput, ServingEngine } from '../../../../src/inference/server/engine.ts';

/** Logits [V] of the toy model after `lastToken` at `pos`. */
export function toyLogits(lastToken: number, pos: number, vocabSize: number): Float32Array {
  const out = new Float32Array(vocabSize);
  for (let v = 0; v < vocabSize; v++) out[v] = 3 * Math.sin(lastToken * 0.37 + v * 1.3 + pos * 0.11);
  return out;
}

interface Sample {
  readonly seqId: string;
  readonly stopper: SequenceStopper;
  readonly generator: SamplerRng;
  readonly logprobs: SampleLogprobs[];
  readonly tokenIds: number[];
  /** The deltas the stop checker released (its own text includes a held-back tail). */
  text: string;
  cumulative: number;
  finishReason: 'stop' | 'length' | null;
  stopReason: string | number | null;
}

interface Req {
  readonly id: string;
  readonly prompt: readonly number[];
  readonly params: SamplingParams;
  readonly samples: Sample[];
  readonly queue: (RequestOutput | null)[];
  wake: (() => void) | null;
  done: boolean;
}

export interface ToyEngineOptions {
  readonly tokenizer: Tokenizer;
  readonly maxModelLen?: number;
  readonly numBlocks?: number;
  readonly blockSize?: number;
  readonly maxNumSeqs?: number;
  readonly stepDelayMs?: number;
}

export class ToyEngine implements ServingEngine {
  readonly tokenizer: Tokenizer;
  readonly maxModelLen: number;
  readonly vocabSize: number;
  readonly eosTokenId: number | null;
  readonly pool: BlockPool;
  readonly scheduler: Scheduler;
  error: Error | null = null;
  steps = 0;
  private readonly sampler: Sampler;
  private readonly seeds = new SeedSource(0);
  private readonly reqs = new Map<string, Req>();
  private readonly bySeq = new Map<string, { req: Req; sample: Sample }>();
  private preemptions = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: ToyEngineOptions) {
    this.tokenizer = opts.tokenizer;
    this.maxModelLen = opts.maxModelLen ?? 128;
    this.vocabSize = opts.tokenizer.vocabSize;
    this.eosTokenId = opts.tokenizer.special.eos;
    this.pool = new BlockPool({ numBlocks: opts.numBlocks ?? 256, blockSize: opts.blockSize ?? 4 });
    this.scheduler = new Scheduler({ maxModelLen: this.maxModelLen, maxNumSeqs: opts.maxNumSeqs ?? 64 }, new KvCacheManager(this.pool));
    this.sampler = new Sampler({ vocabSize: this.vocabSize, eosTokenId: this.eosTokenId });
  }

  async *generate(prompt: readonly number[], params: SamplingParams, id: string, signal?: AbortSignal): AsyncGenerator<RequestOutput> {
    const req: Req = { id, prompt, params, samples: [], queue: [], wake: null, done: false };
    for (let i = 0; i < params.n; i++) {
      const seqId = `${id}#${i}`;
      this.scheduler.addRequest({ seqId, promptTokenIds: prompt });
      const stopper = new SequenceStopper({ tokenizer: this.tokenizer, params, eosTokenId: this.eosTokenId, promptLen: prompt.length, maxModelLen: this.maxModelLen });
      const sample: Sample = { seqId, stopper, generator: makeGenerator(params.seed, this.seeds, i), logprobs: [], tokenIds: [], text: '', cumulative: 0, finishReason: null, stopReason: null };
      req.samples.push(sample);
      this.bySeq.set(seqId, { req, sample });
    }
    this.reqs.set(id, req);
    const onAbort = () => this.abort(id);
    signal?.addEventListener('abort', onAbort);
    this.kick();
    try {
      for (;;) {
        while (req.queue.length === 0) await new Promise<void>((r) => (req.wake = r));
        const out = req.queue.shift()!;
        if (out === null) return;
        yield out;
        if (out.finished) return;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!req.done) this.abort(id);
    }
  }

  abort(id: string): void {
    const req = this.reqs.get(id);
    if (!req || req.done) return;
    for (const s of req.samples) this.scheduler.abort(s.seqId);
    this.close(req, null);
  }

  stats(): EngineStats {
    const { queries, hits } = this.scheduler.manager.prefixCacheStats();
    return { numRunning: this.scheduler.numRunning, numWaiting: this.scheduler.numWaiting, kvCacheUsage: this.pool.stats().usage, prefixCacheQueries: queries, prefixCacheHits: hits, numPreemptions: this.preemptions };
  }

  async shutdown(): Promise<void> {
    for (const id of [...this.reqs.keys()]) this.abort(id);
    if (this.timer) clearTimeout(this.timer);
  }

  private close(req: Req, last: RequestOutput | null): void {
    req.done = true;
    this.reqs.delete(req.id);
    for (const s of req.samples) this.bySeq.delete(s.seqId);
    req.queue.push(last ?? null);
    req.wake?.();
  }

  private kick(): void {
    if (!this.timer) this.timer = setTimeout(() => this.loop(), this.opts.stepDelayMs ?? 0);
  }

  private loop(): void {
    this.timer = null;
    if (!this.scheduler.hasUnfinished()) return;
    try {
      this.step();
    } catch (err) {
      this.error = err as Error;
      for (const id of [...this.reqs.keys()]) this.abort(id);
      return;
    }
    this.kick();
  }

  private step(): void {
    this.steps++;
    const out = this.scheduler.schedule();
    this.preemptions += out.preempted.length;
    const toSample = out.scheduled.filter((s) => s.sample);
    const V = this.vocabSize;
    const logits = new Float32Array(toSample.length * V); // [numSeqs, V]
    toSample.forEach((s, i) => logits.set(toyLogits(s.tokenIds[s.numTokens - 1]!, s.startPos + s.numTokens - 1, V), i * V));
    const seqs = toSample.map((s) => {
      const seq = this.scheduler.get(s.seqId)!;
      const { req, sample } = this.bySeq.get(s.seqId)!;
      return { params: req.params, promptTokenIds: seq.promptTokenIds, outputTokenIds: seq.outputTokenIds, generator: sample.generator };
    });
    const sampled = this.sampler.sample(logits, seqs);
    const tokens = new Map<string, number>();
    const finished: string[] = [];
    const touched = new Set<Req>();
    toSample.forEach((s, i) => {
      const { req, sample } = this.bySeq.get(s.seqId)!;
      const tok = sampled[i]!;
      tokens.set(s.seqId, tok.tokenId);
      if (tok.logprobs) {
        sample.logprobs.push(tok.logprobs);
        sample.cumulative += tok.logprobs.logprob;
      }
      sample.tokenIds.push(tok.tokenId);
      const stepped = sample.stopper.append(tok.tokenId);
      sample.text += stepped.delta;
      if (stepped.finishReason) {
        sample.finishReason = stepped.finishReason;
        sample.stopReason = stepped.stopReason;
        finished.push(s.seqId);
      }
      touched.add(req);
    });
    this.scheduler.updateFromOutput(out, tokens, finished);
    for (const req of touched) this.emit(req);
  }

  private emit(req: Req): void {
    const outputs = req.samples.map((s, index) => {
      return { index, text: s.text, tokenIds: [...s.tokenIds], cumulativeLogprob: req.params.logprobs === null ? null : s.cumulative, logprobs: req.params.logprobs === null ? null : [...s.logprobs], finishReason: s.finishReason, stopReason: s.stopReason };
    });
    const finished = req.samples.every((s) => s.finishReason !== null);
    const output: RequestOutput = { requestId: req.id, promptTokenIds: req.prompt, outputs, finished };
    if (finished) this.close(req, output);
    else {
      req.queue.push(output);
      req.wake?.();
    }
  }
}
