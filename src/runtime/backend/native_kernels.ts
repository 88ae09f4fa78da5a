import * as tf from '@tensorflow/tfjs-core';
import type { FusedAddon, NativeKernels } from './native.ts';

/**
 * The native addon's fused training kernels as tfjs-wasm kernels (forward and backward each one
 * kernel), so they read and write tensors in the wasm heap in place. src/models/fused/ wraps them
 * in tf.customGrad ops; with no addon these kernels are not registered and the ops compose tfjs.
 *   DsRmsNorm       {x [N, D], w [D]} {eps}                  → y [N, D], rstd [N]
 *   DsRmsNormGrad   {x, w, rstd, dy}                         → dx [N, D], dw [D]
 *   DsSwiGlu        {g, u}                                   → y = silu(g)·u
 *   DsSwiGluGrad    {g, u, dy}                               → dg, du
 *   DsCrossEntropy  {logits [N, V], targets int32 [N], mask [N]} → lse [N], loss [N] (masked, per row)
 *   DsCrossEntropyGrad {logits, targets, mask, lse} {scale}  → dlogits [N, V]
 *   DsAttention     {q [B, T, H, Dh], k, v [B, T, Hkv, Dh], cos, sin [T, Dh]} {ropeStyle} → o [B, T, H, Dh], lse [B, H, T]
 *   DsAttentionGrad {q, k, v, cos, sin, o, lse, dout} {ropeStyle} → dq, dk, dv
 * and Add itself, for two float32 tensors of one shape of at least ADD_MIN values (residuals and
 * autograd's gradient sums; threaded where tfjs-wasm's runs on one thread); other Adds keep
 * tfjs-wasm's kernel.
 */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array;
}

type Inputs = tf.NamedTensorInfoMap;
type KernelArgs = { inputs: Inputs; backend: unknown; attrs?: tf.NamedAttrMap };

let fused: FusedAddon | null = null;

/** The addon's fused kernels when they are registered on the wasm backend, else null. */
export function nativeFused(): FusedAddon | null {
  return fused;
}

/**
 * Runs `f` with float32 views of `ins` and of fresh outputs of `shapes`. The views are taken after
 * every makeOutput: one that grows the heap detaches the views taken before it.
 */
function withViews(args: KernelArgs, names: readonly string[], shapes: readonly number[][],
  f: (ins: (Float32Array | Int32Array)[], outs: Float32Array[]) => void): tf.TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const inputs = names.map((n) => {
    const t = args.inputs[n];
    if (!t) throw new Error(`native kernel: input '${n}' is missing`);
    return t;
  });
  const outs = shapes.map((s) => backend.makeOutput(s, 'float32'));
  f(inputs.map((t) => backend.typedArrayFromHeap(t)), outs.map((t) => backend.typedArrayFromHeap(t) as Float32Array));
  return outs;
}

const f32 = (a: Float32Array | Int32Array | undefined): Float32Array => a as Float32Array;
const size = (t: tf.TensorInfo): number => t.shape.reduce((a, b) => a * b, 1);
const last = (t: tf.TensorInfo): number => t.shape[t.shape.length - 1]!;

function attnDims(inputs: Inputs): [number, number, number, number, number] {
  const [B, T, H, Dh] = inputs.q!.shape as [number, number, number, number];
  return [B, T, H, inputs.k!.shape[2]!, Dh];
}

function kernels(a: FusedAddon): Record<string, (args: KernelArgs) => tf.TensorInfo[]> {
  return {
    DsRmsNorm: (args) => {
      const x = args.inputs.x!;
      const D = last(x);
      const N = size(x) / D;
      return withViews(args, ['x', 'w'], [x.shape, [N]], ([xv, wv], [y, rstd]) => a.rmsNorm(f32(xv), f32(wv), y!, rstd!, N, D, (args.attrs as { eps: number }).eps));
    },
    DsRmsNormGrad: (args) => {
      const x = args.inputs.x!;
      const D = last(x);
      const N = size(x) / D;
      return withViews(args, ['x', 'w', 'rstd', 'dy'], [x.shape, [D]], ([xv, wv, rv, dyv], [dx, dw]) => a.rmsNormGrad(f32(xv), f32(wv), f32(rv), f32(dyv), dx!, dw!, N, D));
    },
    DsSwiGlu: (args) => {
      const g = args.inputs.g!;
      return withViews(args, ['g', 'u'], [g.shape], ([gv, uv], [y]) => a.swiglu(f32(gv), f32(uv), y!, size(g)));
    },
    DsSwiGluGrad: (args) => {
      const g = args.inputs.g!;
      return withViews(args, ['g', 'u', 'dy'], [g.shape, g.shape], ([gv, uv, dyv], [dg, du]) => a.swigluGrad(f32(gv), f32(uv), f32(dyv), dg!, du!, size(g)));
    },
    DsCrossEntropy: (args) => {
      const [N, V] = args.inputs.logits!.shape as [number, number];
      return withViews(args, ['logits', 'targets', 'mask'], [[N], [N]], ([lv, tv, mv], [lse, loss]) => a.crossEntropy(f32(lv), tv as Int32Array, f32(mv), lse!, loss!, N, V));
    },
    DsCrossEntropyGrad: (args) => {
      const [N, V] = args.inputs.logits!.shape as [number, number];
      const { scale } = args.attrs as { scale: number };
      return withViews(args, ['logits', 'targets', 'mask', 'lse'], [[N, V]], ([lv, tv, mv, sv], [dl]) => a.crossEntropyGrad(f32(lv), tv as Int32Array, f32(mv), f32(sv), dl!, N, V, scale));
    },
    DsAttention: (args) => {
      const [B, T, H, Hkv, Dh] = attnDims(args.inputs);
      const { ropeStyle } = args.attrs as { ropeStyle: number };
      return withViews(args, ['q', 'k', 'v', 'cos', 'sin'], [[B, T, H, Dh], [B, H, T]], ([q, k, v, c, s], [o, lse]) =>
        a.attention(f32(q), f32(k), f32(v), f32(c), f32(s), o!, lse!, B, T, H, Hkv, Dh, ropeStyle));
    },
    DsAttentionGrad: (args) => {
      const [B, T, H, Hkv, Dh] = attnDims(args.inputs);
      const { ropeStyle } = args.attrs as { ropeStyle: number };
      const kv = args.inputs.k!.shape;
      return withViews(args, ['q', 'k', 'v', 'cos', 'sin', 'o', 'lse', 'dout'], [[B, T, H, Dh], kv, kv], ([q, k, v, c, s, o, lse, dout], [dq, dk, dv]) =>
        a.attentionGrad(f32(q), f32(k), f32(v), f32(c), f32(s), f32(o), f32(lse), f32(dout), dq!, dk!, dv!, B, T, H, Hkv, Dh, ropeStyle));
    },
  };
}

const ADD_MIN = 1 << 16;
let wasmAdd: tf.KernelConfig | undefined;

function addKernel(a: FusedAddon): (args: KernelArgs) => tf.TensorInfo {
  return (args) => {
    const { a: x, b: y } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const same = x.dtype === 'float32' && y.dtype === 'float32' && x.shape.length === y.shape.length && x.shape.every((d, i) => d === y.shape[i]);
    if (!same || size(x) < ADD_MIN) return wasmAdd!.kernelFunc(args as never) as tf.TensorInfo;
    return withViews(args, ['a', 'b'], [x.shape], ([xv, yv], [out]) => a.add(f32(xv), f32(yv), out!, size(x)))[0]!;
  };
}

/** What these kernels are, for `ds report`. */
export const NATIVE_FUSED_KERNELS: readonly { readonly kernel: string; readonly why: string }[] = [
  ...Object.keys(kernels({} as FusedAddon)).map((kernel) => ({ kernel, why: 'fused training kernel with its own backward (src/models/fused)' })),
  { kernel: 'Add', why: `wasm Add of two float32 tensors of one shape (≥ ${ADD_MIN} values) on the pool` },
];

/** Registers the fused kernels on the wasm backend (null: leaves them off, the ops compose tfjs). */
export function registerNativeKernels(k: NativeKernels | null): void {
  fused = k?.fused ?? null;
  if (!k) return;
  for (const [name, fn] of Object.entries(kernels(k.fused))) {
    if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc });
  }
  wasmAdd ??= tf.getKernel('Add', 'wasm');
  if (wasmAdd) {
    tf.unregisterKernel('Add', 'wasm');
    tf.registerKernel({ kernelName: 'Add', backendName: 'wasm', kernelFunc: addKernel(k.fused) as unknown as tf.KernelFunc });
  }
}
