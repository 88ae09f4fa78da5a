import * as tf from '@tensorflow/tfjs-core';
import { parseEinsum } from './einsum_equation.ts';

/**
 * Einsum for the wasm backend, which lacks it. tfjs's einsum takes one or two operands without
 * repeated or '...' subscripts, so every case is one contraction:
 *   1. sum away each operand's labels that nothing else names (Sum kernel);
 *   2. one operand: transpose to the output's order;
 *      two operands: A → [batch, freeA, contracted], B → [batch, contracted, freeB] (Transpose),
 *      one BatchMatMul [nb, m, k]·[nb, k, n] (the fast XNNPACK path), then transpose
 *      [batch, freeA, freeB] to the output's order.
 * Reshapes are views (same dataId, new shape): only kernel outputs are owned and disposed.
 */
interface WasmBackendLike {
  incRef(dataId: object): void;
  disposeData(dataId: object): boolean;
}

type Info = tf.TensorInfo;

function einsum(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): Info {
  const backend = args.backend as WasmBackendLike;
  const { equation } = args.attrs as { equation: string };
  const operands = Object.keys(args.inputs).sort((a, b) => Number(a) - Number(b)).map((k) => args.inputs[k]!);
  const eq = parseEinsum(equation, operands.map((t) => t.shape));
  for (const t of operands) if (t.dtype !== 'float32') throw new Error(`Einsum (wasm) '${equation}': float32 only, got ${t.dtype}`);
  const owned: Info[] = [];
  const run = (name: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap): Info => {
    const out = tf.getKernel(name, 'wasm')!.kernelFunc({ inputs, backend: backend as unknown as tf.KernelBackend, attrs }) as Info;
    owned.push(out);
    return out;
  };
  const view = (t: Info, shape: number[]): Info => ({ dataId: t.dataId, shape, dtype: t.dtype });
  const permute = (t: Info, from: string, to: string): Info => {
    const perm = [...to].map((l) => from.indexOf(l));
    return perm.every((p, i) => p === i) ? t : run('Transpose', { x: t }, { perm });
  };
  const size = (labels: string): number => [...labels].reduce((n, l) => n * eq.sizes.get(l)!, 1);

  // Step 1: labels only one operand has and the output lacks are summed right away.
  const terms = [...eq.inputs];
  const xs = operands.map((t, i) => {
    const mine = terms[i]!;
    const others = terms.filter((_, j) => j !== i).join('') + eq.output;
    const lonely = [...mine].map((l, ax) => (others.includes(l) ? -1 : ax)).filter((ax) => ax >= 0);
    if (lonely.length === 0) return t;
    terms[i] = [...mine].filter((_, ax) => !lonely.includes(ax)).join('');
    return run('Sum', { x: t }, { axis: lonely, keepDims: false });
  });

  let result: Info;
  let resultLabels: string;
  if (xs.length === 1) {
    result = xs[0]!;
    resultLabels = terms[0]!;
  } else {
    const [la, lb] = [terms[0]!, terms[1]!];
    const batch = [...eq.output].filter((l) => la.includes(l) && lb.includes(l)).join('');
    const freeA = [...la].filter((l) => !lb.includes(l)).join('');
    const freeB = [...lb].filter((l) => !la.includes(l)).join('');
    const contracted = [...la].filter((l) => lb.includes(l) && !eq.output.includes(l)).join('');
    const [nb, m, k, n] = [size(batch), size(freeA), size(contracted), size(freeB)];
    const a = permute(xs[0]!, la, batch + freeA + contracted); // [batch…, freeA…, contracted…]
    const b = permute(xs[1]!, lb, batch + contracted + freeB); // [batch…, contracted…, freeB…]
    // [nb, m, k] · [nb, k, n] → [nb, m, n]
    result = run('BatchMatMul', { a: view(a, [nb, m, k]), b: view(b, [nb, k, n]) }, { transposeA: false, transposeB: false });
    resultLabels = batch + freeA + freeB;
    result = view(result, [...resultLabels].map((l) => eq.sizes.get(l)!));
  }
  result = permute(result, resultLabels, eq.output);
  const outShape = [...eq.output].map((l) => eq.sizes.get(l)!);
  const keep = owned.find((t) => t.dataId === result.dataId);
  if (!keep) backend.incRef(result.dataId); // the output is a view of an input: it takes a reference
  for (const t of owned) if (t !== keep) backend.disposeData(t.dataId);
  return { dataId: result.dataId, shape: outShape, dtype: 'float32' };
}

export function registerWasmEinsum(): void {
  if (tf.getKernel('Einsum', 'wasm')) return;
  tf.registerKernel({ kernelName: 'Einsum', backendName: 'wasm', kernelFunc: einsum as unknown as tf.KernelFunc });
}
