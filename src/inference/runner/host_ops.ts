/**
 * Row-wise ops the runner does on the host (Float32Array): they are a few FLOPs per element, so
 * a tfjs dispatch (10–50 µs each) would cost more than the work itself.
 */

/** out[n, :] = x[n, :] · rsqrt(mean(x[n, :]²) + eps) · w, for n < rows.  x, out: [rows, D]; w: [D]. */
export function rmsNormRows(x: Float32Array, w: Float32Array, eps: number, rows: number, out: Float32Array): void {
  const D = w.length;
  for (let n = 0; n < rows; n++) {
    const off = n * D;
    let ss = 0;
    for (let i = 0; i < D; i++) ss += x[off + i]! * x[off + i]!;
    const r = 1 / Math.sqrt(ss / D + eps);
    for (let i = 0; i < D; i++) out[off + i] = x[off + i]! * r * w[i]!;
  }
}

/** x += y over the first `len` values. */
export function addInPlace(x: Float32Array, y: Float32Array, len: number): void {
  for (let i = 0; i < len; i++) x[i] = x[i]! + y[i]!;
}

/** x[n, :] += b for n < rows.  x: [rows, W]; b: [W]. */
export function addRowBias(x: Float32Array, b: Float32Array, rows: number): void {
  const W = b.length;
  for (let n = 0; n < rows; n++) {
    const off = n * W;
    for (let i = 0; i < W; i++) x[off + i] = x[off + i]! + b[i]!;
  }
}

/** Embedding rows of `ids` into out [ids.length, D].  table: [V, D]. */
export function embedRows(table: Float32Array, D: number, ids: Int32Array, out: Float32Array): void {
  for (let n = 0; n < ids.length; n++) out.set(table.subarray(ids[n]! * D, (ids[n]! + 1) * D), n * D);
}
