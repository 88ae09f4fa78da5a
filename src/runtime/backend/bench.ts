import * as tf from '@tensorflow/tfjs-core';

/**
 * GFLOP/s of an [m, k] · [k, n] float32 matmul on the live backend: warm-up runs, then the median
 * of `reps` timed runs (each ends with a read of the result, so the work is done, not queued).
 */
export function measureMatmulGflops(m: number, k: number, n: number, opts: { reps?: number; transposeB?: boolean } = {}): number {
  const reps = opts.reps ?? 5;
  const a = tf.randomNormal([m, k]);
  const b = opts.transposeB ? tf.randomNormal([n, k]) : tf.randomNormal([k, n]);
  const run = (): void => {
    // Returns nothing from tidy: tidy walks a returned TypedArray element by element.
    tf.tidy(() => {
      tf.matMul(a, b, false, opts.transposeB ?? false).dataSync();
    });
  };
  run();
  run();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    run();
    times.push(performance.now() - t);
  }
  tf.dispose([a, b]);
  times.sort((x, y) => x - y);
  const ms = times[Math.floor(times.length / 2)]!;
  return (2 * m * k * n) / (ms * 1e6);
}

/** Microseconds one tiny op costs on the live backend (dispatch overhead, the floor of every op). */
export function measureOpOverheadUs(reps = 2000): number {
  const x = tf.ones([1]);
  const t = performance.now();
  for (let i = 0; i < reps; i++) tf.tidy(() => void tf.add(x, x));
  const us = ((performance.now() - t) * 1000) / reps;
  x.dispose();
  return us;
}
