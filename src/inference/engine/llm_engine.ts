import { endOfGenerationIds } from './end_tokens.ts';
import { ConfigError, InvalidRequestError } from '../../errors.ts';
import { log } from '../../runtime/logger.ts';
import { addsBos, type Tokenizer } from '../../data/tokenizer/types.ts';
import { BlockPool, KvCacheManager, blocksForBudget, bytesPerBlock } from '../kv/index.ts';
import type { LoadedModel } from '../loaders/types.ts';
import { ModelRunner, buildBatch, type ModelRunnerOptions } from '../runner/index.ts';
import type { Runner, RunnerFactory } from '../runner/types.ts';
import { Sampler, SeedSource, makeGenerator, validateForVocab, type SamplingParams } from '../sampler/index.ts';
import { sampleLogprobs } from '../sampler/logprobs.ts';
import { Scheduler } from '../scheduler/index.ts';
import { resolveSchedulerConfig } from '../scheduler/config.ts';
import type { ScheduledSeq } from '../scheduler/output.ts';
import { resolveEngineConfig, type EngineConfig, type EngineConfigInput } from './config.ts';
import type { EngineStats, RequestOutput } from './outputs.ts';
import { RequestState, SampleState } from './request.ts';

const MiB = 2 ** 20;

const now = () => Date.now() / 1000;

/** An engine's resolved config and the sizes derived from it, before anything is built. */
function planEngine(model: LoadedModel, input: EngineConfigInput) {
  const c = model.config;
  const cfg = resolveEngineConfig(input, c.maxPositionEmbeddings);
  const shape = { numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim, blockSize: cfg.blockSize };
  const numBlocks = blocksForBudget({ ...shape, budgetBytes: cfg.kvCacheMemory, maxModelLen: cfg.maxModelLen });
  const perBlock = bytesPerBlock(shape);
  const numHostBlocks = Math.floor(cfg.swapSpace / perBlock);
  const scheduler = { maxNumSeqs: cfg.maxNumSeqs, maxNumBatchedTokens: cfg.maxNumBatchedTokens, maxModelLen: cfg.maxModelLen, preemptionMode: numHostBlocks > 0 ? ('swap' as const) : ('recompute' as const) };
  const runner: ModelRunnerOptions = {
    numBlocks, blockSize: cfg.blockSize, numHostBlocks, maxModelLen: cfg.maxModelLen, threads: cfg.threads,
    maxNumBatchedTokens: resolveSchedulerConfig(scheduler).maxNumBatchedTokens,
  };
  return { cfg, numBlocks, numHostBlocks, perBlock, scheduler, runner };
}

/**
 * The serving loop, one synchronous step at a time: schedule → run the model → sample →
 * update the scheduler → outputs. Requests join the batch at the next step and leave it at the
 * step they finish. n > 1: sample 0 prefills the prompt; its first logits give every sample its
 * first token, and the other samples fork from it, sharing the prompt's KV blocks (copy on write).
 */
export class LLMEngine {
  readonly config: EngineConfig;
  readonly tokenizer: Tokenizer;
  readonly maxModelLen: number;
  readonly vocabSize: number;
  readonly eosTokenId: number | null;
  /** eos and the end-of-turn tokens (end_tokens.ts): any of them ends a sample unless ignore_eos. */
  readonly endTokenIds: readonly number[];
  readonly runner: Runner;
  readonly manager: KvCacheManager;
  readonly scheduler: Scheduler;
  private readonly sampler: Sampler;
  private readonly seeds: SeedSource;
  private readonly requests = new Map<string, RequestState>();
  private readonly bySeq = new Map<string, { req: RequestState; sample: SampleState }>();
  /** Added but not yet handed to the scheduler (static batching holds them until the batch drains). */
  private readonly pending: RequestState[] = [];
  private numPreemptions = 0;
  private numComputedTokens = 0;
  /** Sequences (sample 0 of their request) whose prompt logprobs are wanted. */
  private readonly promptLogprobSeqs = new Set<string>();
  /**
   * Static batching's dense accounting for the current batch: its sequences (finished ones stay
   * as padding until the batch ends), the prompt padding a [seqs, longest prompt] prefill adds, and
   * the real prompt tokens still to prefill (the padding is spread over the prefill chunks).
   */
  private staticBatch = { seqs: 0, prefillPadding: 0, prefillLeft: 0 };

  /** `runner`: one made for this model and config (LLMEngine.create does that); else a wasm ModelRunner is built here. */
  constructor(model: LoadedModel, input: EngineConfigInput = {}, runner?: Runner) {
    const c = model.config;
    const plan = planEngine(model, input);
    const { cfg, numBlocks, numHostBlocks, perBlock } = plan;
    this.config = cfg;
    this.tokenizer = model.tokenizer;
    this.maxModelLen = cfg.maxModelLen;
    this.vocabSize = c.vocabSize;
    this.eosTokenId = c.eosTokenId ?? model.tokenizer.special.eos;
    this.endTokenIds = endOfGenerationIds(model.tokenizer, c.vocabSize, this.eosTokenId, model.eosTokenIds);
    log.info(
      `KV cache: budget ${(cfg.kvCacheMemory / MiB).toFixed(1)} MiB, ${perBlock} bytes per block ` +
        `(${cfg.blockSize} tokens × ${c.numLayers} layers × ${c.numKvHeads} kv heads × ${c.headDim} × K,V × 4 B) → ` +
        `${numBlocks} blocks = ${numBlocks * cfg.blockSize} tokens${numHostBlocks > 0 ? `; swap ${numHostBlocks} host blocks` : ''}`,
    );
    const pool = new BlockPool({ numBlocks, blockSize: cfg.blockSize, enablePrefixCaching: cfg.enablePrefixCaching });
    const hostPool = numHostBlocks > 0 ? new BlockPool({ numBlocks: numHostBlocks, blockSize: cfg.blockSize, enablePrefixCaching: false }) : null;
    this.manager = new KvCacheManager(pool, hostPool);
    this.scheduler = new Scheduler(plan.scheduler, this.manager);
    if (runner && (runner.numBlocks !== numBlocks || runner.blockSize !== cfg.blockSize)) {
      throw new ConfigError('runner', `was made for ${runner.numBlocks} blocks of ${runner.blockSize}, this engine's config gives ${numBlocks} of ${cfg.blockSize}`);
    }
    this.runner = runner ?? new ModelRunner(model, plan.runner);
    this.sampler = new Sampler({ vocabSize: c.vocabSize, eosTokenId: this.eosTokenId, endTokenIds: this.endTokenIds });
    this.seeds = new SeedSource(cfg.seed);
  }

  /** The constructor without holding the event loop while the runner places the model and starts its threads; `makeRunner` picks the device. */
  static async create(model: LoadedModel, input: EngineConfigInput = {}, makeRunner: RunnerFactory = (m, o) => ModelRunner.create(m, o)): Promise<LLMEngine> {
    return new LLMEngine(model, input, await makeRunner(model, planEngine(model, input).runner));
  }

  /** Queues a request; everything about it is checked here, before any work. */
  addRequest(requestId: string, prompt: string | readonly number[], params: SamplingParams, arrivalTime = now()): void {
    if (typeof requestId !== 'string' || requestId === '') throw new InvalidRequestError('request id must be a non-empty string', 'request_id');
    if (this.requests.has(requestId)) throw new InvalidRequestError(`request ${requestId} is already in the engine`, 'request_id');
    const text = typeof prompt === 'string' ? prompt : null;
    const ids = typeof prompt === 'string' ? this.tokenizer.encode(prompt, { addBos: addsBos(this.tokenizer) }) : [...prompt];
    if (ids.length === 0) throw new InvalidRequestError('the prompt is empty', 'prompt');
    const bad = ids.findIndex((t) => !Number.isInteger(t) || t < 0 || t >= this.vocabSize);
    if (bad >= 0) throw new InvalidRequestError(`prompt token at index ${bad} is ${ids[bad]}, outside the vocabulary of ${this.vocabSize}`, 'prompt');
    if (ids.length > this.maxModelLen) {
      throw new InvalidRequestError(`this model's maximum context length is ${this.maxModelLen} tokens, but the prompt has ${ids.length} tokens`, 'prompt');
    }
    validateForVocab(params, this.vocabSize);
    if (params.n > this.config.maxNumSeqs) throw new InvalidRequestError(`n = ${params.n} exceeds max_num_seqs ${this.config.maxNumSeqs}`, 'n');
    const req = new RequestState(requestId, text, ids, params, arrivalTime);
    const stopOpts = { tokenizer: this.tokenizer, params, eosTokenId: this.eosTokenId, endTokenIds: this.endTokenIds, promptLen: ids.length, maxModelLen: this.maxModelLen };
    for (let i = 0; i < params.n; i++) {
      const sample = new SampleState(i, params.n === 1 ? requestId : `${requestId}#${i}`, makeGenerator(params.seed, this.seeds, i), stopOpts);
      req.samples.push(sample);
      this.bySeq.set(sample.seqId, { req, sample });
    }
    this.requests.set(requestId, req);
    this.pending.push(req);
  }

  /** Stops a request wherever it is and frees its blocks; its final output (finish reason 'abort'), or null if unknown. */
  abortRequest(requestId: string): RequestOutput | null {
    const req = this.requests.get(requestId);
    if (!req) return null;
    const i = this.pending.indexOf(req);
    if (i >= 0) this.pending.splice(i, 1);
    for (const s of req.samples) {
      this.scheduler.abort(s.seqId);
      if (s.finishReason === null) s.finishReason = 'abort';
    }
    req.finishedTime = now();
    this.forget(req);
    return req.toOutput();
  }

  hasUnfinished(): boolean {
    return this.requests.size > 0;
  }

  get numRequests(): number {
    return this.requests.size;
  }

  /** One engine step; the outputs of every request it touched. */
  step(): RequestOutput[] {
    this.admit();
    if (!this.scheduler.hasUnfinished()) return [];
    const out = this.scheduler.schedule();
    this.numPreemptions += out.preempted.length;
    this.runner.applyCacheOps(out);
    const t = now();
    const touched = new Set<RequestState>();
    const sampled = new Map<string, number>();
    const finishedSeqs: string[] = [];
    const forks: { parent: SampleState; child: SampleState }[] = [];
    if (out.scheduled.length > 0) {
      const batch = buildBatch(out.scheduled, this.manager.blockSize, this.staticPadding(out.scheduled), this.promptLogprobSeqs);
      this.numComputedTokens += batch.tokenIds.length;
      const logits = this.takePromptLogprobs(out.scheduled, this.runner.execute(batch)); // [sampling rows, V]
      const rows = out.scheduled.filter((s) => s.sample).map((s) => this.bySeq.get(s.seqId)!);
      const tokens = this.sampler.sample(logits, rows.map(({ req, sample }) => this.samplerSeq(req, sample)));
      rows.forEach(({ req, sample }, r) => {
        sampled.set(sample.seqId, tokens[r]!.tokenId);
        if (sample.record(tokens[r]!)) finishedSeqs.push(sample.seqId);
        req.firstTokenTime ??= t;
        if (sample.index === 0 && sample.tokenIds.length === 1) {
          // The prompt's logits also give the other n-1 samples their first token.
          const row = logits.subarray(r * this.vocabSize, (r + 1) * this.vocabSize);
          for (const child of req.samples.slice(1)) {
            if (!child.record(this.sampler.sample(row, [this.samplerSeq(req, child)])[0]!)) forks.push({ parent: sample, child });
          }
        }
      });
      for (const s of out.scheduled) {
        const { req } = this.bySeq.get(s.seqId)!;
        req.firstScheduledTime ??= t;
        touched.add(req);
      }
    }
    // A parent that finishes at its first token stays until its children have forked from it.
    const forkParents = new Set(forks.map((f) => f.parent.seqId));
    const done = this.scheduler.updateFromOutput(out, sampled, finishedSeqs.filter((id) => !forkParents.has(id)));
    for (const { parent, child } of forks) this.fork(parent, child);
    for (const id of forkParents) if (finishedSeqs.includes(id)) this.scheduler.abort(id);
    for (const f of done) {
      const entry = this.bySeq.get(f.seqId);
      if (entry && entry.sample.finishReason === null) entry.sample.finishReason = f.reason; // the context's end, seen by the scheduler
    }
    return this.collect(touched, t);
  }

  /**
   * Logits come back for every row of a prompt-logprobs sequence's prefill chunk: row p (position
   * p) scores prompt token p + 1. Records those, and returns the rows that sample, in order.
   */
  private takePromptLogprobs(scheduled: readonly ScheduledSeq[], logits: Float32Array): Float32Array {
    if (!scheduled.some((s) => s.isPrefill && this.promptLogprobSeqs.has(s.seqId))) return logits;
    const V = this.vocabSize;
    const kept: Float32Array[] = [];
    let r = 0;
    for (const s of scheduled) {
      if (s.isPrefill && this.promptLogprobSeqs.has(s.seqId)) {
        const { req } = this.bySeq.get(s.seqId)!;
        const n = req.params.promptLogprobs ?? 0;
        const cand = new Int32Array(Math.max(1, n));
        const heap = new Int32Array(Math.max(1, n));
        for (let i = 0; i < s.numTokens; i++, r++) {
          const next = s.startPos + i + 1;
          if (next < req.promptTokenIds.length) req.recordPromptLogprob(next, sampleLogprobs(logits.subarray(r * V, (r + 1) * V), req.promptTokenIds[next]!, n, cand, heap));
        }
        if (s.sample) kept.push(logits.subarray((r - 1) * V, r * V));
        // the prompt is scored: a later recompute (after preemption) needs only its last row again
        if (s.startPos + s.numTokens >= req.promptTokenIds.length) this.promptLogprobSeqs.delete(s.seqId);
      } else if (s.sample) {
        kept.push(logits.subarray(r * V, (r + 1) * V));
        r++;
      }
    }
    const out = new Float32Array(kept.length * V);
    kept.forEach((row, i) => out.set(row, i * V));
    return out;
  }

  /** Rows the model has run so far: prompt and decode tokens, recomputed ones, static batching's padding. */
  get computedTokens(): number {
    return this.numComputedTokens;
  }

  stats(): EngineStats {
    const pool = this.manager.pool;
    const cache = this.manager.prefixCacheStats();
    return {
      numRunning: this.scheduler.numRunning,
      numWaiting: this.scheduler.numWaiting + this.pending.length,
      kvCacheUsage: 1 - pool.numFree / pool.numBlocks,
      prefixCacheQueries: cache.queries,
      prefixCacheHits: cache.hits,
      numPreemptions: this.numPreemptions,
    };
  }

  /** Frees the weights; the engine is unusable afterwards. */
  dispose(): void {
    this.runner.dispose();
  }

  private samplerSeq(req: RequestState, sample: SampleState) {
    return { params: req.params, promptTokenIds: req.promptTokenIds, outputTokenIds: sample.tokenIds, generator: sample.generator };
  }

  /**
   * Rows a dense static batch would compute beyond the scheduled tokens: every member of the
   * batch to the longest scheduled token count of this step (a prompt chunk, or 1 when decoding).
   */
  private staticPadding(scheduled: readonly ScheduledSeq[]): number {
    if (this.config.batching !== 'static') return 0;
    const b = this.staticBatch;
    let pad = 0;
    const prefill = scheduled.reduce((n, s) => n + (s.isPrefill ? s.numTokens : 0), 0);
    if (prefill > 0 && b.prefillLeft > 0) {
      // this chunk's share of the prompt padding
      const share = prefill >= b.prefillLeft ? b.prefillPadding : Math.round((b.prefillPadding * prefill) / b.prefillLeft);
      pad += share;
      b.prefillPadding -= share;
      b.prefillLeft = Math.max(0, b.prefillLeft - prefill);
    }
    // every member of the batch computes one token per decode step, finished or not
    const decodes = scheduled.length - scheduled.filter((s) => s.isPrefill).length;
    if (decodes > 0) pad += Math.max(0, b.seqs - this.scheduler.numRunning - this.scheduler.numWaiting - this.scheduler.numSwapped);
    return pad;
  }

  /** Continuous: every pending request joins now. Static: a new batch only once the last one is done. */
  private admit(): void {
    if (this.config.batching === 'static' && this.scheduler.hasUnfinished()) return;
    let seqs = 0;
    const prompts: number[] = [];
    while (this.pending.length > 0) {
      const req = this.pending[0]!;
      if (this.config.batching === 'static' && seqs > 0 && seqs + req.params.n > this.config.maxNumSeqs) break;
      this.pending.shift();
      seqs += req.params.n;
      prompts.push(req.promptTokenIds.length);
      // prompt logprobs need every prompt position computed: no start from the prefix cache
      this.scheduler.addRequest({ seqId: req.samples[0]!.seqId, promptTokenIds: req.promptTokenIds, reuseCachedPrefix: req.params.promptLogprobs === null });
      if (req.params.promptLogprobs !== null) this.promptLogprobSeqs.add(req.samples[0]!.seqId);
    }
    if (this.config.batching === 'static' && prompts.length > 0) {
      const real = prompts.reduce((a, b) => a + b, 0);
      this.staticBatch = { seqs, prefillPadding: prompts.length * Math.max(...prompts) - real, prefillLeft: real };
    }
  }

  private fork(parent: SampleState, child: SampleState): void {
    const parentSeq = this.scheduler.get(parent.seqId);
    if (parentSeq && parentSeq.status === 'running' && this.scheduler.numRunning < this.config.maxNumSeqs) {
      this.scheduler.fork(parent.seqId, child.seqId, child.tokenIds);
      return;
    }
    // No room in the running batch: the child queues as its own sequence (prefix caching still shares the full blocks).
    const req = this.bySeq.get(child.seqId)!.req;
    this.scheduler.addRequest({ seqId: child.seqId, promptTokenIds: [...req.promptTokenIds, ...child.tokenIds] });
  }

  private collect(touched: Set<RequestState>, t: number): RequestOutput[] {
    const outputs: RequestOutput[] = [];
    for (const req of touched) {
      if (req.finished) {
        req.finishedTime = t;
        this.forget(req);
      }
      outputs.push(req.toOutput());
    }
    return outputs;
  }

  private forget(req: RequestState): void {
    this.requests.delete(req.requestId);
    this.promptLogprobSeqs.delete(req.samples[0]!.seqId);
    for (const s of req.samples) this.bySeq.delete(s.seqId);
  }
}
