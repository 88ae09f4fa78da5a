import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../../errors.ts';

export interface MatmulBenchOptions {
  /** Timed runs; the median counts (default 5). */
  readonly reps?: number;
  /** Untimed runs first (default 2). */
  readonly warmup?: number;
  /** b is given as [n, k] (HF weight layout, x·Wᵀ). */
  readonly transposeB?: boolean;
  /** Batch of independent products: [batch, m, k]·[batch, k, n] (attention's [B·H, T, Dh] shape). */
  readonly batch?: number;
}

/** Runs `f` on `backend`, then puts the backend that was live back. */
export async function onBackend<T>(backend: string, f: () => T): Promise<T> {
  const previous = tf.getBackend();
  const known = tf.findBackend(backend) ?? tf.engine().registryFactory[backend];
  if (previous !== backend && (!known || !(await tf.setBackend(backend)))) throw new InputError(`backend '${backend}' is not available (live: ${previous})`);
  try {
    return f();
  } finally {
    if (previous && previous !== backend) await tf.setBackend(previous);
  }
}

/** Median milliseconds of `run` after `warmup` untimed calls. */
export function medianMs(run: () => void, reps: number, warmup: number): number {
  for (let i = 0; i < warmup; i++) run();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    run();
    times.push(performance.now() - t);
  }
  times.sort((x, y) => x - y);
  return times[Math.floor(times.length / 2)]!;
}

/**
 * GFLOP/s of an [m, k]·[k, n] float32 matmul (2·m·k·n FLOPs, times `batch`) on `backend`: warm-up
 * runs, then the median of `reps` timed runs, each ending with a read of the result so the work
 * is done, not queued. The training benchmark divides its FLOP rate by this for MFU.
 */
export async function measureMatmulGflops(backend: string, m: number, k: number, n: number, opts: MatmulBenchOptions = {}): Promise<number> {
  for (const [name, v] of Object.entries({ m, k, n, batch: opts.batch ?? 1 })) {
    if (!Number.isInteger(v) || v < 1) throw new InputError(`measureMatmulGflops: ${name} must be a positive integer, got ${v}`);
  }
  const batch = opts.batch ?? 1;
  return onBackend(backend, () => {
    const lead = opts.batch === undefined ? [] : [batch];
    const a = tf.randomNormal([...lead, m, k]);
    const b = tf.randomNormal(opts.transposeB ? [...lead, n, k] : [...lead, k, n]);
    // Returns nothing from tidy: tidy walks a returned TypedArray element by element.
    const run = (): void => tf.tidy(() => void tf.matMul(a, b, false, opts.transposeB ?? false).dataSync());
    const ms = medianMs(run, opts.reps ?? 5, opts.warmup ?? 2);
    tf.dispose([a, b]);
    return (2 * batch * m * k * n) / (ms * 1e6);
  });
}

/** Microseconds one `op` on the inputs `make` returns costs on `backend` (dispatch + the work). */
export async function measureOpUs(backend: string, make: () => tf.Tensor[], op: (...xs: tf.Tensor[]) => tf.Tensor, reps = 50): Promise<number> {
  return onBackend(backend, () => {
    const xs = make();
    // wasm and cpu kernels run synchronously: the op is done when it returns, and no read-back
    // (a copy out of the heap) is timed with it.
    const run = (): void => tf.tidy(() => void op(...xs).dataId);
    const ms = medianMs(() => {
      for (let i = 0; i < reps; i++) run();
    }, 3, 1);
    tf.dispose(xs);
    return (ms * 1000) / reps;
  });
}
