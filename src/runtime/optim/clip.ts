/**
 * Gradient clipping by global L2 norm on a flat buffer. The three pieces are separate for
 * multi-rank runs: each rank sums the squares of its part (sumSquares), the engine all-reduces
 * that sum, and every rank scales by the same factor (clipFactor, scaleInPlace).
 */

/** Σ buf[i]² over [from, to), accumulated in float64. */
export function sumSquares(buf: Float32Array, from = 0, to = buf.length): number {
  let s = 0;
  for (let i = from; i < to; i++) {
    const x = buf[i]!;
    s += x * x;
  }
  return s;
}

/** buf[i] ← buf[i]·factor over [from, to). */
export function scaleInPlace(buf: Float32Array, factor: number, from = 0, to = buf.length): void {
  if (factor === 1) return;
  for (let i = from; i < to; i++) buf[i] = buf[i]! * factor;
}

/**
 * The factor that brings a gradient of norm `norm` to at most `maxNorm`: PyTorch's
 * clip_grad_norm_ (max_norm / (norm + 1e-6), applied only when below 1); 1 when maxNorm is 0 (off).
 */
export function clipFactor(norm: number, maxNorm: number): number {
  if (maxNorm <= 0 || !Number.isFinite(norm)) return 1;
  const f = maxNorm / (norm + 1e-6);
  return f < 1 ? f : 1;
}

/** One rank's clipping: scales buf[from, to) so its L2 norm is at most maxNorm; returns the norm before. */
export function clipByGlobalNorm(buf: Float32Array, maxNorm: number, from = 0, to = buf.length): number {
  const norm = Math.sqrt(sumSquares(buf, from, to));
  scaleInPlace(buf, clipFactor(norm, maxNorm), from, to);
  return norm;
}
