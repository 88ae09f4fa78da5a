import * as tf from '@tensorflow/tfjs-core';
import type { ForwardCtx, Layer, Model, ParamMap } from '../../models/types.ts';
import type { MicroBatch } from './executor.ts';
import { applyLayer } from '../../models/ops.ts';

/** One layer of a profiled forward pass (DeepSpeed's flops profiler reports these per module). */
export interface LayerProfile {
  readonly name: string;
  readonly params: number;
  /** Multiply-accumulates of the layer's matrix products (2 FLOPs each). */
  readonly macs: number;
  /** All FLOPs: 2·MACs plus one per output element of every other kernel. */
  readonly flops: number;
  readonly fwdMs: number;
}

/** Kernels that only move or reinterpret data: no arithmetic. */
const NO_FLOPS = new Set(['Reshape', 'Transpose', 'Identity', 'Cast', 'GatherV2', 'Slice', 'Concat', 'Pack', 'Unpack', 'Tile', 'ExpandDims', 'Squeeze', 'Fill', 'OneHot', 'ZerosLike', 'OnesLike', 'StridedSlice']);

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** MACs of a (Batch)MatMul from its kernel input and output shapes: batch·M·N·K. */
function matmulMacs(inputShapes: readonly (readonly number[])[], outputShapes: readonly (readonly number[])[]): number {
  const a = inputShapes[0];
  const out = outputShapes[0];
  if (!a || !out) return 0;
  const outElems = numel(out);
  // K is the dimension A and B share: the one of A's last two that does not appear in the output.
  const m = out[out.length - 2]!;
  const [a0, a1] = [a[a.length - 2]!, a[a.length - 1]!];
  const k = a0 === m && a1 !== m ? a1 : a1 === m && a0 !== m ? a0 : a1;
  return outElems * k;
}

/**
 * MACs of the fused causal attention (src/models/fused/attention.ts) from q [B, T, H, Dh]: QKᵀ and
 * PV over the causal triangle only, which is what its tiles compute (a masked T × T product, as
 * the unfused path ran, would count T² instead of T(T+1)/2).
 */
function attentionMacs(inputShapes: readonly (readonly number[])[]): number {
  const q = inputShapes[0];
  if (!q || q.length !== 4) return 0;
  const [B, T, H, Dh] = q as [number, number, number, number];
  return 2 * B * H * ((T * (T + 1)) / 2) * Dh;
}

/**
 * Runs the model forward on one micro-batch, layer by layer, recording each layer's kernels
 * with tf.profile (their names and shapes, so FLOPs come from what actually ran) and its wall
 * time, taken on a separate plain run of the layer with its output read back before the clock
 * stops.
 */
export async function profileForward(model: Model, params: Map<string, tf.Tensor>, batch: MicroBatch): Promise<LayerProfile[]> {
  const ctx: ForwardCtx = { config: model.config, positionOffset: 0, training: false };
  const out: LayerProfile[] = [];
  // A pipeline stage past the first starts from a hidden state: a seeded normal one of the shape
  // the previous stage sends (the kernels, their shapes and so the FLOPs are the same as on real data).
  // A tensor-parallel rank runs its own slices, without the all-reduces: FLOPs per rank.
  let x: tf.Tensor = model.layers[0]?.input === 'hidden'
    ? tf.randomNormal([batch.batchSize, batch.seqLen, model.config.hiddenSize], 0, 1, 'float32', 1)
    : tf.tensor2d(batch.input, [batch.batchSize, batch.seqLen], 'int32');
  for (const layer of model.layers) {
    const p = paramsOf(layer, params);
    const t0 = performance.now();
    const y = tf.tidy(() => applyLayer(layer, p, x, ctx));
    await y.data(); // read back before the clock stops (asynchronously: the webgpu backend cannot read otherwise)
    const fwdMs = performance.now() - t0;
    // A second run, for the kernel list only: the profiler's own bookkeeping would inflate the time.
    const info = await tf.profile(() => tf.tidy(() => applyLayer(layer, p, x, ctx)));
    tf.dispose(info.result as tf.Tensor);
    let macs = 0;
    let other = 0;
    for (const k of info.kernels) {
      if (k.name === 'BatchMatMul' || k.name === '_FusedMatMul' || k.name === 'MatMul') macs += matmulMacs(k.inputShapes, k.outputShapes);
      else if (k.name === 'DsAttention') macs += attentionMacs(k.inputShapes);
      else if (!NO_FLOPS.has(k.name)) other += k.outputShapes.reduce((s, sh) => s + numel(sh ?? []), 0);
    }
    out.push({ name: layer.name, params: layer.params.reduce((s, q) => s + numel(q.shape), 0), macs, flops: 2 * macs + other, fwdMs });
    x.dispose();
    x = y;
  }
  x.dispose();
  return out;
}

function paramsOf(layer: Layer, all: Map<string, tf.Tensor>): ParamMap {
  const p: Record<string, tf.Tensor> = {};
  for (const s of layer.params) p[s.name] = all.get(s.name)!;
  return p;
}
