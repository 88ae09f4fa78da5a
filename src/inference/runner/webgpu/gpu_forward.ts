/// <reference types="@webgpu/types" />
/**
 * One step of the decoder on the GPU. Per step: one upload of the batch's metadata (token ids,
 * positions, slots, sequence of each row, sampled rows, block tables: one i32 buffer) and of
 * the Step uniform; one submit of every layer's dispatches and the final norm; one submit per
 * LM-head chunk; one read back of the sampled rows' logits [S, V].
 *
 * Per layer:  h = rmsnorm(x) → qkv = h·Wqkv (+ b: qwen2; q/k head norms: qwen3) → rope q, k; k, v → pools at slots →
 *             attn = paged_attention(q) → x += attn·Wo → h = rmsnorm(x) → tmp = h·[Wgate | Wup]
 *             → act = silu(gate)·up → x += act·Wdown
 * Activations: x, h [R, D]; qkv [R, (H + 2Hkv)·Dh]; attn [R, H·Dh]; tmp [R, 2F]; act [R, F];
 * last [R, D] (the sampled rows, normed); logits [headRows, V]. R grows with the largest step.
 */
import { assert } from '../../../errors.ts';
import type { ModelConfig } from '../../../models/types.ts';
import type { RunnerBatch } from '../batch.ts';
import type { GpuGlobals } from './gpu.ts';
import { GpuKvPools } from './gpu_cache.ts';
import { GpuPipelines, matmulGrid, spread, type Dispatch } from './gpu_pipelines.ts';
import { GpuDeviceError, type GpuMatrix, type GpuWeightStore } from './gpu_weights.ts';
import { packStep, STEP_WORDS, type StepFields } from './wgsl/common.ts';
import { packMatmulParams } from './wgsl/matmul.ts';

interface Activations {
  readonly rows: number;
  readonly metaWords: number;
  readonly headRows: number;
  readonly bufs: Record<'x' | 'h' | 'qkv' | 'attn' | 'tmp' | 'act' | 'last' | 'logits' | 'meta', GPUBuffer>;
  readonly body: Dispatch[];
  readonly head: Dispatch[];
}

export class GpuForward {
  private readonly pipes: GpuPipelines;
  private readonly step: GPUBuffer;
  private readonly uniforms: GPUBuffer[] = [];
  private act: Activations | null = null;
  private staging: GPUBuffer | null = null;
  /** LM-head rows per chunk: logits [headRows, V] must fit one storage binding. */
  private readonly maxHeadRows: number;

  constructor(
    private readonly device: GPUDevice,
    private readonly g: GpuGlobals,
    private readonly c: ModelConfig,
    private readonly weights: GpuWeightStore,
    readonly pools: GpuKvPools,
    private readonly rope: GPUBuffer,
    private readonly maxBinding: number,
  ) {
    this.pipes = new GpuPipelines(device, c, pools.shape.blockSize, rope.size / (4 * c.headDim));
    this.step = device.createBuffer({ label: 'step', size: 4 * STEP_WORDS, usage: g.GPUBufferUsage.UNIFORM | g.GPUBufferUsage.COPY_DST });
    this.maxHeadRows = Math.max(1, Math.min(64, Math.floor(maxBinding / (4 * c.vocabSize))));
  }

  /** Forward over the batch; writes its K/V. Returns logits [sampleRows.length, V]. */
  async run(batch: RunnerBatch): Promise<Float32Array> {
    const c = this.c;
    const V = c.vocabSize;
    const N = batch.tokenIds.length;
    const S = batch.sampleRows.length;
    assert(N > 0 && batch.positions.length === N && batch.slotMapping.length === N, () => `WebGpuRunner.execute: ${N} tokens, ${batch.positions.length} positions, ${batch.slotMapping.length} slots`);
    const maxBlocks = Math.max(1, ...batch.seqs.map((s) => s.blockTable.length));
    const seqOf = new Int32Array(N).fill(-1);
    batch.seqs.forEach((s, i) => seqOf.fill(i, s.queryStart, s.queryStart + s.queryLen));
    for (let i = 0; i < N; i++) {
      const id = batch.tokenIds[i]!;
      assert(id >= 0 && id < V, () => `WebGpuRunner.execute: token ${id} at row ${i} is outside the vocabulary of ${V}`);
    }
    const { blockSize: B, numBlocks } = this.pools.shape;
    for (const s of batch.seqs) {
      // the kernels index the pools with these: checked here, since a GPU clamps an out-of-range read silently
      assert(s.contextLen <= s.blockTable.length * B, () => `WebGpuRunner.execute: a context of ${s.contextLen} tokens needs more than its ${s.blockTable.length} blocks of ${B}`);
      for (const blk of s.blockTable) assert(blk >= 0 && blk < numBlocks, () => `WebGpuRunner.execute: block ${blk} is outside the pool of ${numBlocks}`);
    }
    for (const r of batch.sampleRows) assert(r >= 0 && r < N, () => `WebGpuRunner.execute: sample row ${r} is outside the ${N} tokens`);
    // meta (i32): tok[N] | pos[N] | slot[N] | seq[N] | sample[S] | tables[numSeqs, maxBlocks]
    const f: StepFields = { n: N, s: S, headRows: 0, headRow0: 0, maxBlocks, tokOff: 0, posOff: N, slotOff: 2 * N, seqOff: 3 * N, sampleOff: 4 * N, tableOff: 4 * N + S };
    const meta = new Int32Array(4 * N + S + batch.seqs.length * maxBlocks);
    meta.set(batch.tokenIds, 0);
    meta.set(batch.positions, N);
    meta.set(batch.slotMapping, 2 * N);
    meta.set(seqOf, 3 * N);
    meta.set(batch.sampleRows, 4 * N);
    batch.seqs.forEach((s, i) => meta.set(s.blockTable, f.tableOff + i * maxBlocks));
    const a = this.ensure(N, meta.length);
    const q = this.device.queue;
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    q.writeBuffer(a.bufs.meta, 0, meta);
    q.writeBuffer(this.step, 0, packStep(f));
    this.encode(a.body, N, S, 0);
    let staging: GPUBuffer | null = null;
    if (S > 0) {
      staging = this.stagingFor(4 * S * V);
      for (let r0 = 0; r0 < S; r0 += a.headRows) {
        const rows = Math.min(a.headRows, S - r0);
        q.writeBuffer(this.step, 0, packStep({ ...f, headRows: rows, headRow0: r0 }));
        this.encode(a.head, N, S, rows, (enc) => enc.copyBufferToBuffer(a.bufs.logits, 0, staging!, 4 * r0 * V, 4 * rows * V));
      }
    }
    const [validation, oom] = [await this.device.popErrorScope(), await this.device.popErrorScope()];
    if (oom) throw new GpuDeviceError(`the GPU ran out of memory in a step of ${N} tokens: ${oom.message}`);
    if (validation) throw new GpuDeviceError(`WebGPU rejected a step of ${N} tokens: ${validation.message}`);
    if (!staging) return new Float32Array(0);
    await staging.mapAsync(this.g.GPUMapMode.READ, 0, 4 * S * V);
    const logits = new Float32Array(staging.getMappedRange(0, 4 * S * V).slice(0));
    staging.unmap();
    return logits;
  }

  /** Sizes the activations for steps of up to `rows` tokens now (a larger step grows them). */
  reserve(rows: number): void {
    this.ensure(rows, 1024);
  }

  destroy(): void {
    this.destroyActivations();
    this.staging?.destroy();
    for (const b of [this.step, ...this.uniforms]) b.destroy();
  }

  private encode(list: readonly Dispatch[], n: number, s: number, hr: number, after?: (enc: GPUCommandEncoder) => void): void {
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (const d of list) {
      const [x, y, z] = d.grid(n, s, hr);
      if (x * y * z === 0) continue;
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(x, y, z);
    }
    pass.end();
    after?.(enc);
    this.device.queue.submit([enc.finish()]);
  }

  private stagingFor(bytes: number): GPUBuffer {
    if (!this.staging || this.staging.size < bytes) {
      this.staging?.destroy();
      this.staging = this.device.createBuffer({ label: 'logits.staging', size: bytes, usage: this.g.GPUBufferUsage.MAP_READ | this.g.GPUBufferUsage.COPY_DST });
    }
    return this.staging;
  }

  private uniform(words: Uint32Array): GPUBuffer {
    const b = this.device.createBuffer({ size: Math.max(16, words.byteLength), usage: this.g.GPUBufferUsage.UNIFORM, mappedAtCreation: true });
    new Uint32Array(b.getMappedRange()).set(words);
    b.unmap();
    this.uniforms.push(b);
    return b;
  }

  /** Activations for `rows` rows and `metaWords` of metadata, (re)built with their dispatches when a step outgrows them. */
  private ensure(rows: number, metaWords: number): Activations {
    if (this.act && this.act.rows >= rows && this.act.metaWords >= metaWords) return this.act;
    const R = Math.max(rows, this.act?.rows ?? 0);
    const M = Math.max(metaWords, this.act?.metaWords ?? 0, 1024);
    this.destroyActivations();
    const c = this.c;
    const { hiddenSize: D, numHeads: H, numKvHeads: Hkv, headDim: Dh, intermediateSize: F, vocabSize: V } = c;
    const qkvW = (H + 2 * Hkv) * Dh;
    const floats = { x: R * D, h: R * D, qkv: R * qkvW, attn: R * H * Dh, tmp: R * 2 * F, act: R * F, last: R * D, logits: this.maxHeadRows * V, meta: M };
    const u = this.g.GPUBufferUsage;
    const bufs = {} as Activations['bufs'];
    for (const [name, n] of Object.entries(floats) as [keyof typeof floats, number][]) {
      if (4 * n > this.maxBinding) throw new GpuDeviceError(`activations '${name}' for ${R}-row steps take ${4 * n} B, over the adapter's max storage buffer binding of ${this.maxBinding} B; lower --max-num-batched-tokens`);
      bufs[name] = this.device.createBuffer({ label: name, size: 4 * n, usage: u.STORAGE | u.COPY_SRC | u.COPY_DST });
    }
    this.act = { rows: R, metaWords: M, headRows: this.maxHeadRows, bufs, ...this.dispatches(bufs) };
    return this.act;
  }

  private destroyActivations(): void {
    if (this.act) for (const b of Object.values(this.act.bufs)) b.destroy();
    this.act = null;
    for (const b of this.uniforms.splice(0)) b.destroy();
  }

  /** Every dispatch of a step, bound to these buffers. */
  private dispatches(b: Activations['bufs']): { body: Dispatch[]; head: Dispatch[] } {
    const c = this.c;
    const { hiddenSize: D, numHeads: H, numKvHeads: Hkv, headDim: Dh, intermediateSize: F } = c;
    const qkvW = (H + 2 * Hkv) * Dh;
    const p = this.pipes;
    const w = this.weights;
    const body: Dispatch[] = [];
    const norm = (weight: GPUBuffer, x: GPUBuffer, y: GPUBuffer, gather: boolean) =>
      body.push({ pipeline: p.rmsNorm, bindGroup: p.bind(p.rmsNorm, [this.uniform(Uint32Array.from([gather ? 1 : 0, 0, 0, 0])), this.step, weight, x, y, b.meta]), grid: (n, s) => [gather ? s : n, 1, 1] });
    /** y[:, outOff + …] (+)= x · mᵀ, one dispatch per part of m. */
    const product = (list: Dispatch[], m: GpuMatrix, x: GPUBuffer, xStride: number, y: GPUBuffer, outStride: number, outOff: number, accumulate: boolean, mSel: 0 | 2) => {
      for (const part of m.parts) {
        const params = packMatmulParams({ N: part.rows, K: m.K, xStride, outStride, outOff: outOff + part.r0, accumulate, mSel, rowBytes: m.rowBytes });
        const pipeline = p.matmul(m.type);
        list.push({ pipeline, bindGroup: p.bind(pipeline, [this.uniform(params), this.step, part.buffer, x, y]), grid: matmulGrid(part.rows, mSel) });
      }
    };
    const embed = w.matrix('model.embed_tokens.weight');
    for (const part of embed.parts) {
      const pipeline = p.getRows(embed.type);
      body.push({ pipeline, bindGroup: p.bind(pipeline, [this.uniform(Uint32Array.from([D, part.r0, part.rows, embed.rowBytes])), this.step, part.buffer, b.meta, b.x]), grid: (n) => [n, 1, 1] });
    }
    for (let l = 0; l < c.numLayers; l++) {
      const n = (s: string) => `model.layers.${l}.${s}`;
      norm(w.vector(n('input_layernorm.weight')), b.x, b.h, false);
      product(body, w.matrix(n('self_attn.q_proj.weight')), b.h, D, b.qkv, qkvW, 0, false, 0);
      product(body, w.matrix(n('self_attn.k_proj.weight')), b.h, D, b.qkv, qkvW, H * Dh, false, 0);
      product(body, w.matrix(n('self_attn.v_proj.weight')), b.h, D, b.qkv, qkvW, (H + Hkv) * Dh, false, 0);
      const bias = w.vectors.get(n('self_attn.qkv_bias'));
      if (bias) body.push({ pipeline: p.biasAdd, bindGroup: p.bind(p.biasAdd, [this.step, b.qkv, bias]), grid: (nn) => [...spread(Math.ceil((nn * qkvW) / 64)), 1] });
      const [qNorm, kNorm] = [w.vectors.get(n('self_attn.q_norm.weight')), w.vectors.get(n('self_attn.k_norm.weight'))];
      if (qNorm && kNorm) body.push({ pipeline: p.headNorm, bindGroup: p.bind(p.headNorm, [this.step, b.qkv, qNorm, kNorm]), grid: (nn) => [nn, H + Hkv, 1] });
      const [k, v] = [this.pools.k[l]!, this.pools.v[l]!];
      body.push({ pipeline: p.ropeKv, bindGroup: p.bind(p.ropeKv, [this.step, b.qkv, k, v, b.meta, this.rope]), grid: (nn) => [nn, 1, 1] });
      body.push({ pipeline: p.attention, bindGroup: p.bind(p.attention, [this.step, b.qkv, k, v, b.meta, b.attn]), grid: (nn) => [nn, H, 1] });
      product(body, w.matrix(n('self_attn.o_proj.weight')), b.attn, H * Dh, b.x, D, 0, true, 0);
      norm(w.vector(n('post_attention_layernorm.weight')), b.x, b.h, false);
      product(body, w.matrix(n('mlp.gate_proj.weight')), b.h, D, b.tmp, 2 * F, 0, false, 0);
      product(body, w.matrix(n('mlp.up_proj.weight')), b.h, D, b.tmp, 2 * F, F, false, 0);
      body.push({ pipeline: p.swiglu, bindGroup: p.bind(p.swiglu, [this.step, b.tmp, b.act]), grid: (nn) => [...spread(Math.ceil((nn * F) / 64)), 1] });
      product(body, w.matrix(n('mlp.down_proj.weight')), b.act, F, b.x, D, 0, true, 0);
    }
    norm(w.vector('model.norm.weight'), b.x, b.last, true);
    const head: Dispatch[] = [];
    const lm = c.tieWordEmbeddings && !w.matrices.has('lm_head.weight') ? embed : w.matrix('lm_head.weight');
    product(head, lm, b.last, D, b.logits, c.vocabSize, 0, false, 2);
    return { body, head };
  }
}
