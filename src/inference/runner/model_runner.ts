import { assert, ConfigError } from '../../errors.ts';
import type { ModelConfig } from '../../models/types.ts';
import { allocKvPools, copyBlocks, createKvLayerCache, swapIn, swapOut, type KvCacheShape, type KvLayerCache } from '../attention/index.ts';
import type { SchedulerOutput } from '../scheduler/output.ts';
import { SharedArena } from '../wasm/arena.ts';
import type { RunnerBatch } from './batch.ts';
import type { Runner } from './types.ts';
import { ROW_SPLIT_MIN_BYTES, RunnerCore, type RunnerLayout } from './runner_core.ts';
import { RowTeam } from './row_team.ts';
import { RunnerWorker } from './runner_threads.ts';
import { splitBatch, type BatchPart } from './split.ts';
import { placeWeights, placeWeightsAsync, weightBytes, type RunnerWeights, type WeightSource } from './weights.ts';

/**
 * Rows per thread from which a batch is split over the threads. Below it a handoff (a message,
 * the batch's index arrays copied, the logits copied back) costs about what a thread saves. Splitting each
 * product by columns instead (tensor-parallel) was tried twice for single-sequence decode and
 * lost both times (1300-1500 vs 1600-2100 tok/s at batch 1, with spinning handoffs): ~17
 * handoffs per token, and the activations crossing cores, cost more than halving the weight
 * reads of 15 µs products saved.
 */
const SEQ_SPLIT_ROWS = 4;
/** A split by sequence is taken when no part has more than this times its even share of rows. */
const SEQ_SPLIT_SLACK = 1.25;

/** Per thread, beyond its activations: attention's scratch (tables, per-head accumulators) and the odd larger step. */
const SCRATCH_SLACK = 16 * 2 ** 20;

export interface ModelRunnerOptions {
  /** KV blocks per layer on the device pool. */
  readonly numBlocks: number;
  readonly blockSize: number;
  /** Host swap blocks per layer (0: no swapping). */
  readonly numHostBlocks?: number;
  /** Longest position served (rope table size); defaults to the model's context. */
  readonly maxModelLen?: number;
  /**
   * Threads each batch is split over, by sequence (default 1): this one and threads − 1 worker
   * threads. Weights and KV pools are shared (one SharedArena); each thread has its activations.
   */
  readonly threads?: number;
  /** The largest step the scheduler will send (its token budget): each thread's activations are sized for it up front. Default 2048. */
  readonly maxNumBatchedTokens?: number;
  /**
   * With threads > 1, a step that is not split by sequence (one sequence, or a split far from
   * even) has each product from this many weight bytes split by rows over the threads. Default
   * ROW_SPLIT_MIN_BYTES; 0 splits every product (tests).
   */
  readonly rowSplitMinBytes?: number;
}

/** What the runner needs of a loaded model (a runner worker gets no tokenizer). */
export type RunnerModel = WeightSource;

/** Checked options and sizes, before anything is allocated. */
interface RunnerPlan {
  readonly maxModelLen: number;
  readonly threads: number;
  readonly maxRows: number;
  readonly shape: KvCacheShape;
  readonly arenaBytes: number;
}

/** What the constructor needs that create() may have built already. */
interface Prepared {
  readonly arena: SharedArena;
  readonly layout: RunnerLayout;
  readonly workers: RunnerWorker[];
  /** The RowTeam's shared words, handed to every worker. */
  readonly team: SharedArrayBuffer;
}

function planRunner(model: RunnerModel, opts: ModelRunnerOptions): RunnerPlan {
  const c = model.config;
  const maxModelLen = opts.maxModelLen ?? c.maxPositionEmbeddings;
  if (maxModelLen > c.maxPositionEmbeddings) throw new ConfigError('maxModelLen', `${maxModelLen} exceeds the model's context of ${c.maxPositionEmbeddings}`);
  const threads = opts.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new ConfigError('threads', `must be a positive integer, got ${threads}`);
  if (opts.rowSplitMinBytes !== undefined && !(opts.rowSplitMinBytes >= 0)) throw new ConfigError('rowSplitMinBytes', `must be a number of bytes ≥ 0, got ${opts.rowSplitMinBytes}`);
  const shape = { blockSize: opts.blockSize, numKvHeads: c.numKvHeads, headDim: c.headDim, numBlocks: opts.numBlocks };
  const poolBytes = 2 * 4 * c.numLayers * opts.numBlocks * opts.blockSize * c.numKvHeads * c.headDim;
  const wBytes = weightBytes(model);
  const maxRows = opts.maxNumBatchedTokens ?? 2048;
  const actBytes = threads * (RunnerCore.activationBytes(c, maxRows) + SCRATCH_SLACK);
  if (wBytes + poolBytes + actBytes > SharedArena.MAX_BYTES) {
    const GiB = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
    throw new ConfigError(
      'kvCacheMemory',
      `the weights (${GiB(wBytes)}, as stored: F16, BF16 and quantized blocks kept, F32 as float32), the KV cache (${GiB(poolBytes)}) and ${threads} thread(s) of activations for ${maxRows}-token steps (${GiB(actBytes)}) must fit the ${GiB(SharedArena.MAX_BYTES)} one WebAssembly memory addresses; lower --kv-cache-memory${wBytes > SharedArena.MAX_BYTES / 2 ? ' (this model is too large for the wasm runner)' : ', --max-num-batched-tokens or --threads'}`,
    );
  }
  return { maxModelLen, threads, maxRows, shape, arenaBytes: wBytes + poolBytes + actBytes };
}

/** The runner's layout once its weights are placed: the KV pools follow them in the arena. */
function layoutOf(arena: SharedArena, model: RunnerModel, plan: RunnerPlan, weights: RunnerWeights): RunnerLayout {
  return { config: model.config, maxModelLen: plan.maxModelLen, weights, pools: allocKvPools(arena, plan.shape, model.config.numLayers) };
}

function prepareSync(model: RunnerModel, plan: RunnerPlan): Prepared {
  const arena = SharedArena.create(plan.arenaBytes);
  const layout = layoutOf(arena, model, plan, placeWeights(arena, model));
  const team = RowTeam.buffer();
  const workers: RunnerWorker[] = [];
  try {
    for (let i = 1; i < plan.threads; i++) workers.push(new RunnerWorker(i, arena.memory, layout, plan.maxRows, team));
  } catch (e) {
    for (const w of workers) w.stop();
    throw e;
  }
  return { arena, layout, workers, team };
}

/**
 * Runs the decoder over a ragged batch with a paged KV cache, on deepscale's own WebAssembly
 * kernels: the weights (packed), the KV pools and the activations live in one shared wasm memory
 * (SharedArena); per layer four gemm calls over all tokens of the batch (fused qkv, o, fused
 * gate/up, down) and one paged-attention call, with norms, rope and SwiGLU in TypeScript between
 * them. Only the rows that sample go through the LM head. With threads > 1 each batch is split
 * by sequence over worker threads running the same kernels on the same memory.
 */
export class ModelRunner implements Runner {
  readonly device = 'cpu';
  readonly config: ModelConfig;
  readonly blockSize: number;
  readonly numBlocks: number;
  readonly maxModelLen: number;
  /** Per layer: K/V pools [numBlocks, Hkv, blockSize, Dh], in the arena. */
  readonly kvCaches: readonly KvLayerCache[];
  readonly hostCaches: readonly KvLayerCache[];
  /** The memory the kernels work in (weights, KV pools, activations). */
  readonly arena: SharedArena;
  private readonly core: RunnerCore;
  /** Worker threads taking a share of each batch (empty: this thread runs it all). */
  private readonly workers: RunnerWorker[] = [];

  /**
   * Places the model and starts the threads, holding the event loop meanwhile; ModelRunner.create
   * does the same without holding it. `prepared` is create's work, handed over.
   */
  constructor(model: RunnerModel, opts: ModelRunnerOptions, prepared?: Prepared) {
    const c = (this.config = model.config);
    const plan = planRunner(model, opts);
    this.blockSize = opts.blockSize;
    this.numBlocks = opts.numBlocks;
    this.maxModelLen = plan.maxModelLen;
    const p = prepared ?? prepareSync(model, plan);
    this.arena = p.arena;
    this.core = new RunnerCore(p.arena, p.layout, plan.maxRows);
    this.kvCaches = this.core.attention.caches;
    const host = opts.numHostBlocks ?? 0;
    this.hostCaches = host > 0 ? Array.from({ length: c.numLayers }, () => createKvLayerCache({ ...plan.shape, numBlocks: host })) : [];
    this.workers.push(...p.workers);
    if (this.workers.length > 0) {
      const workers = this.workers;
      this.core.splitProducts({ team: new RowTeam(p.team), threads: this.numThreads, minBytes: opts.rowSplitMinBytes ?? ROW_SPLIT_MIN_BYTES, wake: () => workers.forEach((w) => w.wake()) });
    }
  }

  /** The constructor's work with the event loop free between layers and while threads start (a server answers /health meanwhile). */
  static async create(model: RunnerModel, opts: ModelRunnerOptions): Promise<ModelRunner> {
    const plan = planRunner(model, opts);
    const arena = SharedArena.create(plan.arenaBytes);
    const layout = layoutOf(arena, model, plan, await placeWeightsAsync(arena, model));
    const team = RowTeam.buffer();
    const workers = Array.from({ length: plan.threads - 1 }, (_, i) => new RunnerWorker(i + 1, arena.memory, layout, plan.maxRows, team, false));
    try {
      await Promise.all(workers.map((w) => w.ready()));
    } catch (e) {
      for (const w of workers) w.stop();
      throw e;
    }
    return new ModelRunner(model, opts, { arena, layout, workers, team });
  }

  /** Threads a batch is split over (1 + worker threads). */
  get numThreads(): number {
    return 1 + this.workers.length;
  }

  /** Swaps and copy-on-write copies a scheduler step asks for, in its order, before the forward. */
  applyCacheOps(out: Pick<SchedulerOutput, 'swappedOut' | 'swappedIn' | 'blockCopies'>): void {
    if (out.swappedOut.length + out.swappedIn.length > 0) assert(this.hostCaches.length > 0, 'ModelRunner: swap requested but no host blocks were configured');
    this.kvCaches.forEach((cache, l) => {
      if (out.swappedOut.length > 0) swapOut(cache, this.hostCaches[l]!, out.swappedOut);
      if (out.swappedIn.length > 0) swapIn(this.hostCaches[l]!, cache, out.swappedIn);
      if (out.blockCopies.length > 0) copyBlocks(cache, out.blockCopies);
    });
  }

  /**
   * Forward over the batch; writes its K/V. Returns logits [sampleRows.length, V] (row-major).
   * With worker threads a batch of at least SEQ_SPLIT_ROWS rows per thread is split by sequence:
   * the workers take the first parts while this thread runs the last, then the logits rows are
   * put back in sampleRows order. A smaller batch runs here alone.
   */
  execute(batch: RunnerBatch): Float32Array {
    const N = batch.tokenIds.length;
    if (this.workers.length === 0 || N < SEQ_SPLIT_ROWS * this.numThreads) return this.core.forward(batch);
    const parts = splitBatch(batch, this.numThreads);
    // One sequence, or a split far from even (a long prefill beside a few decodes): split every product by rows instead.
    if (parts.length === 1 || Math.max(...parts.map((p) => p.batch.tokenIds.length)) > (SEQ_SPLIT_SLACK * N) / this.numThreads) return this.core.forward(batch);
    const mine = parts[parts.length - 1]!;
    const others = parts.slice(0, -1);
    others.forEach((p, i) => this.workers[i]!.start(p.batch));
    let local: Float32Array | null = null;
    let failure: unknown = null;
    try {
      local = this.core.forward(mine.batch, false); // the workers are busy with their parts: no row split
    } catch (e) {
      failure = e;
    }
    // Collect every started job, even when this share or another failed, so that no reply is left behind.
    const results = others.map((_, i) => {
      try {
        return this.workers[i]!.finish();
      } catch (e) {
        failure ??= e;
        return null;
      }
    });
    if (local === null || results.includes(null)) throw failure;
    const V = this.config.vocabSize;
    const out = new Float32Array(batch.sampleRows.length * V);
    const place = (p: BatchPart, logits: Float32Array) => p.outputIndex.forEach((o, r) => out.set(logits.subarray(r * V, (r + 1) * V), o * V));
    others.forEach((p, i) => place(p, results[i]!));
    place(mine, local);
    return out;
  }

  /** Stops the worker threads; the runner is unusable afterwards (its memory goes with it). */
  dispose(): void {
    for (const w of this.workers.splice(0)) w.stop();
  }
}
