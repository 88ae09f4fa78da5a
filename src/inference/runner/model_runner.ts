import * as tf from '@tensorflow/tfjs-core';
import { assert, ConfigError } from '../../errors.ts';
import type { ModelConfig } from '../../models/types.ts';
import { copyBlocks, createKvLayerCache, pagedAttention, swapIn, swapOut, WasmPagedAttention, writeKv, type KvLayerCache, type PagedAttentionArgs } from '../attention/index.ts';
import type { LoadedModel } from '../loaders/types.ts';
import type { SchedulerOutput } from '../scheduler/output.ts';
import type { RunnerBatch } from './batch.ts';
import { addInPlace, embedRows, rmsNormRows, siluMulRows } from './host_ops.ts';
import { RopeTable } from './rope.ts';
import { RunnerWorker } from './runner_threads.ts';
import { splitBatch, type BatchPart } from './split.ts';
import type { BackendName } from '../../runtime/backend/index.ts';
import { disposeWeights, uploadWeights, type RunnerWeights } from './weights.ts';

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
   * threads, each with its own copy of the weights. Needs the wasm attention kernel (the KV pools
   * are shared through its memory); without it the runner stays on one thread.
   */
  readonly threads?: number;
  /** Set by a runner worker: use the KV pools in this memory instead of allocating them. */
  readonly kvMemory?: WebAssembly.Memory;
}

/** What the runner needs of a loaded model (a runner worker gets no tokenizer). */
export type RunnerModel = Pick<LoadedModel, 'config' | 'weights' | 'source'>;

/** x · W for host rows x [rows, in] and a weight W [in, out] on tfjs: one matMul, read back.  → [rows, out] */
function matMulHost(x: Float32Array, rows: number, w: tf.Tensor2D): Float32Array {
  const a = tf.tensor2d(x.length === rows * w.shape[0] ? x : x.subarray(0, rows * w.shape[0]), [rows, w.shape[0]]);
  const y = tf.matMul(a, w);
  const out = y.dataSync() as Float32Array;
  a.dispose();
  y.dispose();
  return out;
}

/**
 * Runs the decoder over a ragged batch with a paged KV cache. Per layer the heavy products are
 * one tfjs matMul each over all tokens of the batch (fused qkv, o, fused gate/up, down); norms,
 * rope, SwiGLU and paged attention run on the host between them, so a layer costs four
 * dispatches whatever the batch holds. Only the rows that sample go through the LM head.
 */
export class ModelRunner {
  readonly config: ModelConfig;
  readonly blockSize: number;
  readonly numBlocks: number;
  readonly maxModelLen: number;
  /** Per layer: K/V pools [numBlocks, blockSize, Hkv, Dh]. */
  readonly kvCaches: readonly KvLayerCache[];
  readonly hostCaches: readonly KvLayerCache[];
  private readonly weights: RunnerWeights;
  private readonly rope: RopeTable;
  /** The wasm SIMD kernel owning kvCaches, or null (no wasm SIMD here): the TypeScript kernel then. */
  private readonly wasmAttention: WasmPagedAttention | null;
  /** Worker threads taking a share of each batch (empty: this thread runs it all). */
  private readonly workers: RunnerWorker[] = [];

  constructor(model: RunnerModel, opts: ModelRunnerOptions) {
    const c = (this.config = model.config);
    this.blockSize = opts.blockSize;
    this.numBlocks = opts.numBlocks;
    this.maxModelLen = opts.maxModelLen ?? c.maxPositionEmbeddings;
    if (this.maxModelLen > c.maxPositionEmbeddings) {
      throw new ConfigError('maxModelLen', `${this.maxModelLen} exceeds the model's context of ${c.maxPositionEmbeddings}`);
    }
    const shape = { blockSize: opts.blockSize, numKvHeads: c.numKvHeads, headDim: c.headDim };
    const poolShape = { ...shape, numBlocks: opts.numBlocks };
    if (opts.kvMemory) this.wasmAttention = new WasmPagedAttention(poolShape, c.numLayers, opts.kvMemory);
    else this.wasmAttention = WasmPagedAttention.available() ? new WasmPagedAttention(poolShape, c.numLayers) : null;
    this.kvCaches = this.wasmAttention?.caches ?? Array.from({ length: c.numLayers }, () => createKvLayerCache({ ...shape, numBlocks: opts.numBlocks }));
    const host = opts.numHostBlocks ?? 0;
    this.hostCaches = host > 0 ? Array.from({ length: c.numLayers }, () => createKvLayerCache({ ...shape, numBlocks: host })) : [];
    this.rope = new RopeTable(c, this.maxModelLen);
    this.weights = uploadWeights(model);
    const threads = opts.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1) throw new ConfigError('threads', `must be a positive integer, got ${threads}`);
    if (threads > 1 && this.wasmAttention && !opts.kvMemory) {
      const workerOpts: ModelRunnerOptions = { ...opts, numHostBlocks: 0, threads: 1, kvMemory: this.wasmAttention.sharedMemory };
      try {
        for (let i = 1; i < threads; i++) this.workers.push(new RunnerWorker(i, model, workerOpts, tf.getBackend() as BackendName));
      } catch (e) {
        this.dispose();
        throw e;
      }
    }
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
   * With worker threads the batch is split by sequence: the workers take the first parts while
   * this thread runs the last, then the logits rows are put back in sampleRows order.
   */
  execute(batch: RunnerBatch): Float32Array {
    if (this.workers.length === 0) return this.forward(batch);
    const parts = splitBatch(batch, this.numThreads);
    if (parts.length === 1) return this.forward(batch);
    const mine = parts[parts.length - 1]!;
    const others = parts.slice(0, -1);
    others.forEach((p, i) => this.workers[i]!.start(p.batch));
    let local: Float32Array | null = null;
    let failure: unknown = null;
    try {
      local = this.forward(mine.batch);
    } catch (e) {
      failure = e;
    }
    const results = others.map((_, i) => this.workers[i]!.finish()); // every started job, even when this share failed
    if (local === null) throw failure;
    const V = this.config.vocabSize;
    const out = new Float32Array(batch.sampleRows.length * V);
    const place = (p: BatchPart, logits: Float32Array) => p.outputIndex.forEach((o, r) => out.set(logits.subarray(r * V, (r + 1) * V), o * V));
    others.forEach((p, i) => place(p, results[i]!));
    place(mine, local);
    return out;
  }

  /** The forward of one thread's batch. */
  private forward(batch: RunnerBatch): Float32Array {
    const c = this.config;
    const { hiddenSize: D, numHeads: H, numKvHeads: Hkv, headDim: Dh, intermediateSize: F } = c;
    const N = batch.tokenIds.length;
    assert(N > 0 && batch.positions.length === N && batch.slotMapping.length === N, () => `ModelRunner.execute: ${N} tokens, ${batch.positions.length} positions, ${batch.slotMapping.length} slots`);
    for (let i = 0; i < N; i++) {
      const id = batch.tokenIds[i]!;
      assert(id >= 0 && id < c.vocabSize, () => `ModelRunner.execute: token ${id} at row ${i} is outside the vocabulary of ${c.vocabSize}`);
    }
    const qW = H * Dh;
    const kvW = Hkv * Dh;
    const qkvW = qW + 2 * kvW;
    const x = new Float32Array(N * D); // residual stream [N, D]
    const h = new Float32Array(N * D); // normed input of a sublayer [N, D]
    const q = new Float32Array(N * qW); // [N, H, Dh]
    const k = new Float32Array(N * kvW); // [N, Hkv, Dh]
    const v = new Float32Array(N * kvW); // [N, Hkv, Dh]
    const attn = new Float32Array(N * qW); // [N, H, Dh]
    const act = new Float32Array(N * F); // [N, F]
    const tables = batch.seqs.map((s) => s.blockTable);
    const seqs = batch.seqs;
    const scale = 1 / Math.sqrt(Dh);
    embedRows(this.weights.embed, D, batch.tokenIds, x);

    this.weights.layers.forEach((lw, l) => {
      rmsNormRows(x, lw.inputNorm, c.rmsNormEps, N, h);
      const qkv = matMulHost(h, N, lw.qkv); // [N, (H + 2Hkv)·Dh]
      for (let t = 0; t < N; t++) {
        const row = t * qkvW;
        q.set(qkv.subarray(row, row + qW), t * qW);
        k.set(qkv.subarray(row + qW, row + qW + kvW), t * kvW);
        v.set(qkv.subarray(row + qW + kvW, row + qkvW), t * kvW);
        const pos = batch.positions[t]!;
        this.rope.apply(q, t * qW, H, pos);
        this.rope.apply(k, t * kvW, Hkv, pos);
      }
      const cache = this.kvCaches[l]!;
      writeKv(cache, batch.slotMapping, k, v);
      this.attention({ q, kCache: cache.kCache, vCache: cache.vCache, blockTables: tables, seqs, numHeads: H, numKvHeads: Hkv, headDim: Dh, blockSize: this.blockSize, scale, out: attn });
      addInPlace(x, matMulHost(attn, N, lw.o), N * D);
      rmsNormRows(x, lw.postNorm, c.rmsNormEps, N, h);
      siluMulRows(matMulHost(h, N, lw.gateUp), F, N, act);
      addInPlace(x, matMulHost(act, N, lw.down), N * D);
    });

    // Final norm and LM head for the sampled rows only.  [S, D] → [S, V]
    const S = batch.sampleRows.length;
    if (S === 0) return new Float32Array(0);
    const last = new Float32Array(S * D);
    batch.sampleRows.forEach((r, i) => {
      assert(r >= 0 && r < N, () => `ModelRunner.execute: sample row ${r} is outside the ${N} tokens`);
      last.set(x.subarray(r * D, (r + 1) * D), i * D);
    });
    rmsNormRows(last, this.weights.finalNorm, c.rmsNormEps, S, last);
    return matMulHost(last, S, this.weights.lmHead);
  }

  private attention(a: PagedAttentionArgs): Float32Array {
    return this.wasmAttention ? this.wasmAttention.run(a) : pagedAttention(a);
  }

  /** Frees the weight tensors and stops the worker threads; the runner is unusable afterwards. */
  dispose(): void {
    for (const w of this.workers.splice(0)) w.stop();
    disposeWeights(this.weights);
  }
}
