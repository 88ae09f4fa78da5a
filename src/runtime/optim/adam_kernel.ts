/**
 * The Adam update on params[lo, hi), state at m[lo − from], v[lo − from] (PyTorch / DeepSpeed
 * FusedAdam arithmetic):
 *   g ← g + l2·p                              (Adam's L2 weight decay; 0 for AdamW)
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← p·keep − (lr / c1) · m / (√v / √c2 + ε)   keep = 1 − lr·wd for AdamW, else 1
 * with c1 = 1 − β1ᵗ, c2 = 1 − β2ᵗ (1 without bias correction).
 */
export function adamRange(
  params: Float32Array,
  grads: Float32Array,
  m: Float32Array,
  v: Float32Array,
  lo: number,
  hi: number,
  from: number,
  b1: number,
  b2: number,
  eps: number,
  stepSize: number,
  sqrtC2: number,
  l2: number,
  keep: number,
): void {
  for (let j = lo; j < hi; j++) {
    const i = j - from;
    const p = params[j]!;
    const g = grads[j]! + l2 * p;
    const mi = b1 * m[i]! + (1 - b1) * g;
    const vi = b2 * v[i]! + (1 - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    params[j] = p * keep - (stepSize * mi) / (Math.sqrt(vi) / sqrtC2 + eps);
  }
}
