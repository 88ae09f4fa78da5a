/**
 * One thread's forward pass over a ragged batch, entirely inside the runner's SharedArena: the
 * gemm and attention kernels (WebAssembly SIMD) read and write the arena in place, and the
 * row-wise ops (norms, rope, SwiGLU, residual adds) run in TypeScript on views of it. Every
 * thread of a runner makes its own RunnerCore over the same arena and layout (weights and KV pools
 * shared, activations per thread).
 */
import { assert } from '../../errors.ts';
import type { ModelConfig } from '../../models/types.ts';
import { WasmPagedAttention, writeKv, type KvPoolLayout } from '../attention/index.ts';
import { ScratchRegion, SharedArena } from '../wasm/arena.ts';
import type { RunnerBatch } from './batch.ts';
import { EmbeddingTable } from './embedding.ts';
import { WasmGemm } from './gemm.ts';
import { addInPlace, addRowBias, rmsNormRows } from './host_ops.ts';
import { panelBytes, q8ScratchBytes, QuantGemm, rowBytes } from './qgemm.ts';
import { RopeTable } from './rope.ts';
import { chunking, type ChunkRunner, type RowJob, type RowTeam } from './row_team.ts';
import { isRows, type LinearWeight, type RunnerWeights } from './weights.ts';

/** Where everything of a runner is in its arena: plain data, handed to worker threads. */
export interface RunnerLayout {
  readonly config: ModelConfig;
  readonly maxModelLen: number;
  readonly weights: RunnerWeights;
  readonly pools: KvPoolLayout;
}

/** Rows of the LM head computed at once (a prompt-logprobs prefill wants every row's logits). */
const LM_HEAD_ROWS = 64;

/**
 * A product is split by rows over the threads (row_team.ts) when its weight takes at least this
 * many bytes, or it has at least 16 times as many multiply-adds: below, the handoff (posting it,
 * waiting for the last chunk, the output's cache lines crossing cores) costs about what a thread
 * saves.
 */
export const ROW_SPLIT_MIN_BYTES = 256 * 1024;

/** The weights' linear products in one list (an index is what a row job names): per layer qkv, o, gate/up, down; then the LM head. */
export function linearWeights(w: RunnerWeights): LinearWeight[] {
  return [...w.layers.flatMap((l) => [l.qkv, l.o, l.gateUp, l.down]), w.lmHead];
}

const LM_HEAD = -1;
const weightBytesOf = (w: LinearWeight) => (isRows(w) ? w.parts.reduce((n, p) => n + p.rows * rowBytes(p.type, w.K), 0) : 4 * w.K * w.N);

/** How the main thread's core hands products to the other threads. */
export interface RowSplit {
  readonly team: RowTeam;
  /** Tells the other threads that a product is posted. */
  readonly wake: () => void;
  readonly threads: number;
  /** Products from this many weight bytes are split (ROW_SPLIT_MIN_BYTES; 0: all). */
  readonly minBytes: number;
}

/** Floats of one step's activations for `rows` rows, by name (the layout forward() uses). */
function activationSizes(c: ModelConfig, rows: number) {
  const { hiddenSize: D, numHeads: H, numKvHeads: Hkv, headDim: Dh, intermediateSize: F, vocabSize: V } = c;
  const N = rows;
  const maxK = Math.max(D, F, H * Dh);
  // q8: a product's input quantized to 8 bits for the stored-format kernels (qgemm.ts), in floats
  return { x: N * D, h: N * D, qkv: N * (H + 2 * Hkv) * Dh, q: N * H * Dh, k: N * Hkv * Dh, v: N * Hkv * Dh, attn: N * H * Dh, tmp: N * Math.max(D, 2 * F), act: N * F, last: N * D, logits: Math.min(N, LM_HEAD_ROWS) * V, q8: Math.ceil(q8ScratchBytes(N, maxK) / 4) };
}

const bytesOf = (sizes: Record<string, number>) => 4 * Object.values(sizes).reduce((a, b) => a + b + 16, 0);

export class RunnerCore {
  /** Bytes a thread's activations take for steps of up to `rows` rows. */
  static activationBytes(c: ModelConfig, rows: number): number {
    return bytesOf(activationSizes(c, rows));
  }

  readonly attention: WasmPagedAttention;
  private readonly arena: SharedArena;
  private readonly layout: RunnerLayout;
  private readonly gemm: WasmGemm;
  private readonly qgemm: QuantGemm;
  private readonly rope: RopeTable;
  private readonly activations: ScratchRegion;
  private readonly embed: EmbeddingTable;
  /** Byte offset of this step's q8 scratch (set by forward()). */
  private q8Off = 0;
  private readonly finalNorm: Float32Array;
  private readonly norms: readonly { input: Float32Array; post: Float32Array }[];
  /** Per layer: views of the architecture extras it has (null: none). */
  private readonly extras: readonly { qkvBias: Float32Array | null; qNorm: Float32Array | null; kNorm: Float32Array | null }[];
  /** linearWeights(), and this thread's own panel scratch for the row chunks it runs. */
  private readonly matrices: readonly LinearWeight[];
  private readonly panelOff: number;
  /** Set on the main thread's core of a threaded runner: products split by rows. */
  private split: RowSplit | null = null;
  /** Whether this forward splits products (not while the other threads run their own share of a batch). */
  private splitting = false;

  /** `maxRows`: the largest step expected (its activations are reserved now; a larger one grows them). */
  constructor(arena: SharedArena, layout: RunnerLayout, maxRows = 0) {
    const c = layout.config;
    this.arena = arena;
    this.layout = layout;
    this.attention = new WasmPagedAttention(arena, layout.pools);
    this.gemm = new WasmGemm(arena);
    this.qgemm = new QuantGemm(arena);
    this.rope = new RopeTable(c, layout.maxModelLen);
    this.activations = new ScratchRegion(arena, 'activations');
    const w = layout.weights;
    this.embed = new EmbeddingTable(arena, w.embed, w.embedType, c.vocabSize, c.hiddenSize);
    this.finalNorm = arena.f32(w.finalNorm, c.hiddenSize);
    this.norms = w.layers.map((l) => ({ input: arena.f32(l.inputNorm, c.hiddenSize), post: arena.f32(l.postNorm, c.hiddenSize) }));
    const qkvW = (c.numHeads + 2 * c.numKvHeads) * c.headDim;
    const view = (off: number | null, n: number) => (off === null ? null : arena.f32(off, n));
    this.extras = w.layers.map((l) => ({ qkvBias: view(l.qkvBias, qkvW), qNorm: view(l.qNorm, c.headDim), kNorm: view(l.kNorm, c.headDim) }));
    if (maxRows > 0) this.activations.reserve(RunnerCore.activationBytes(c, maxRows));
    this.matrices = linearWeights(w);
    this.panelOff = arena.alloc(panelBytes(Math.max(...this.matrices.map((m) => m.K))), 'row panel');
  }

  /** From now on, products worth it are split by rows over `split`'s threads (the main thread's core only). */
  splitProducts(split: RowSplit): void {
    this.split = split;
  }

  /** Output columns [r0, r1) of a posted product, on this thread (row_team.ts's ChunkRunner). */
  readonly runChunk: ChunkRunner = (job, r0, r1) => {
    const w = this.matrices[job.matrix]!;
    if (isRows(w)) this.qgemm.rows(job.aOff, w, job.cOff, job.M, job.q8Off, this.panelOff, r0, r1);
    else this.gemm.run(job.aOff, w, job.cOff, job.M, r0, r1);
  };

  /** Forward over the batch; writes its K/V. Returns logits [sampleRows.length, V] (row-major, a new array). */
  forward(batch: RunnerBatch, splitRows = true): Float32Array {
    this.splitting = splitRows && this.split !== null;
    const c = this.layout.config;
    const { hiddenSize: D, numHeads: H, numKvHeads: Hkv, headDim: Dh, intermediateSize: F, vocabSize: V } = c;
    const N = batch.tokenIds.length;
    const S = batch.sampleRows.length;
    assert(N > 0 && batch.positions.length === N && batch.slotMapping.length === N, () => `ModelRunner.execute: ${N} tokens, ${batch.positions.length} positions, ${batch.slotMapping.length} slots`);
    for (let i = 0; i < N; i++) {
      const id = batch.tokenIds[i]!;
      assert(id >= 0 && id < V, () => `ModelRunner.execute: token ${id} at row ${i} is outside the vocabulary of ${V}`);
    }
    const qW = H * Dh;
    const kvW = Hkv * Dh;
    const qkvW = qW + 2 * kvW;
    // This step's activations, one region: [name, floats].
    const sizes = activationSizes(c, N);
    const base = this.activations.reserve(bytesOf(sizes));
    const off = {} as Record<keyof typeof sizes, number>;
    let at = base;
    for (const [name, n] of Object.entries(sizes) as [keyof typeof sizes, number][]) (off[name] = at), (at += 4 * (n + 16));
    const view = (name: keyof typeof sizes) => this.arena.f32(off[name], sizes[name]);
    const x = view('x'); // residual stream [N, D]
    const h = view('h'); // normed input of a sublayer [N, D]
    const qkv = view('qkv'); // [N, (H + 2Hkv)·Dh]
    const q = view('q'); // [N, H, Dh]
    const k = view('k'); // [N, Hkv, Dh]
    const v = view('v'); // [N, Hkv, Dh]
    const attn = view('attn'); // [N, H, Dh]
    const tmp = view('tmp'); // a product's output: [N, D] or [N, 2F]
    const act = view('act'); // [N, F]
    const geometry = { numHeads: H, numKvHeads: Hkv, headDim: Dh, blockSize: this.layout.pools.shape.blockSize, scale: 1 / Math.sqrt(Dh) };
    const tables = batch.seqs.map((s) => s.blockTable);
    this.q8Off = off.q8;
    this.embed.rows(batch.tokenIds, x);
    attn.fill(0); // padding rows (no sequence) are never written by attention

    this.layout.weights.layers.forEach((_, l) => {
      rmsNormRows(x, this.norms[l]!.input, c.rmsNormEps, N, h);
      this.matmul(off.h, 4 * l, off.qkv, N); // [N, (H + 2Hkv)·Dh]
      const ex = this.extras[l]!;
      if (ex.qkvBias) addRowBias(qkv, ex.qkvBias, N); // Qwen2: [N, (H + 2Hkv)·Dh] += b
      for (let t = 0; t < N; t++) {
        // split the fused row (plain loops: a subarray per copy costs more than these few floats)
        const row = t * qkvW;
        for (let i = 0; i < qW; i++) q[t * qW + i] = qkv[row + i]!;
        for (let i = 0; i < kvW; i++) k[t * kvW + i] = qkv[row + qW + i]!;
        for (let i = 0; i < kvW; i++) v[t * kvW + i] = qkv[row + qW + kvW + i]!;
      }
      if (ex.qNorm && ex.kNorm) {
        // Qwen3: RMSNorm over each head, before rope.  q as [N·H, Dh], k as [N·Hkv, Dh]
        rmsNormRows(q, ex.qNorm, c.rmsNormEps, N * H, q);
        rmsNormRows(k, ex.kNorm, c.rmsNormEps, N * Hkv, k);
      }
      for (let t = 0; t < N; t++) {
        const pos = batch.positions[t]!;
        this.rope.apply(q, t * qW, H, pos);
        this.rope.apply(k, t * kvW, Hkv, pos);
      }
      writeKv(this.attention.caches[l]!, batch.slotMapping, k, v);
      this.attention.attend(l, off.q, off.attn, N, batch.seqs, tables, geometry);
      this.matmul(off.attn, 4 * l + 1, off.tmp, N);
      addInPlace(x, tmp, N * D);
      rmsNormRows(x, this.norms[l]!.post, c.rmsNormEps, N, h);
      this.matmul(off.h, 4 * l + 2, off.tmp, N);
      this.gemm.siluMul(off.tmp, off.act, F, N);
      this.matmul(off.act, 4 * l + 3, off.tmp, N);
      addInPlace(x, tmp, N * D);
    });

    // Final norm and LM head for the sampled rows only.  [S, D] → [S, V]
    if (S === 0) return new Float32Array(0);
    const last = view('last');
    batch.sampleRows.forEach((r, i) => {
      assert(r >= 0 && r < N, () => `ModelRunner.execute: sample row ${r} is outside the ${N} tokens`);
      last.set(x.subarray(r * D, (r + 1) * D), i * D);
    });
    rmsNormRows(last, this.finalNorm, c.rmsNormEps, S, last);
    const logits = new Float32Array(S * V);
    for (let r0 = 0; r0 < S; r0 += LM_HEAD_ROWS) {
      const rows = Math.min(LM_HEAD_ROWS, S - r0);
      this.matmul(off.last + 4 * r0 * D, LM_HEAD, off.logits, rows);
      logits.set(this.arena.f32(off.logits, rows * V), r0 * V);
    }
    return logits;
  }

  /** c = a · matrices[index]ᵀ (LM_HEAD: the last), split by rows over the threads where that pays. */
  private matmul(aOff: number, index: number, cOff: number, M: number): void {
    const matrix = index === LM_HEAD ? this.matrices.length - 1 : index;
    const w = this.matrices[matrix]!;
    const split = this.split;
    if (split !== null && this.splitting && M > 0 && split.team.active && (weightBytesOf(w) >= split.minBytes || M * w.K * w.N >= 16 * split.minBytes)) {
      if (isRows(w)) this.qgemm.prepare(aOff, w, M, this.q8Off);
      const job: RowJob = { matrix, aOff, cOff, M, q8Off: this.q8Off, ...chunking(w.N, split.threads) };
      split.team.run(job, split.wake, this.runChunk, w.N, split.threads);
    } else if (isRows(w)) this.qgemm.run(aOff, w, cOff, M, this.q8Off);
    else this.gemm.run(aOff, w, cOff, M);
  }
}
