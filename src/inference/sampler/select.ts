/**
 * Partial selection: the k largest of n values, in O(n log k), so top-k and top-p never sort a
 * 32k vocabulary when a few hundred candidates decide the answer. Ties go to the lower index
 * everywhere (argmax, top-k boundary, order), which makes every choice deterministic.
 */

/** Is (va, ia) ranked before (vb, ib)? Larger value first, then lower index. */
function before(va: number, ia: number, vb: number, ib: number): boolean {
  return va > vb || (va === vb && ia < ib);
}

/** Index of the largest of values[0..n), the lowest index on ties. NaN never wins. */
export function argmax(values: ArrayLike<number>, n: number): number {
  let best = 0;
  let bv = values[0]!;
  for (let i = 1; i < n; i++) {
    const v = values[i]!;
    if (v > bv || (bv !== bv && v === v)) {
      bv = v;
      best = i;
    }
  }
  return best;
}

/**
 * Writes into out[0..k) the indices of the k largest of values[0..n), best first, and returns k
 * (clamped to n). `heap` is scratch of length ≥ k. A min-heap of the k best seen so far, whose
 * root is the worst of them: each new value either loses to the root (one comparison) or replaces it.
 */
export function topKIndices(values: ArrayLike<number>, n: number, k: number, out: Int32Array, heap: Int32Array = out): number {
  k = Math.min(k, n);
  if (k <= 0) return 0;
  let size = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (size < k) {
      // sift up: parent must be worse than (ranked after) the child
      let c = size++;
      while (c > 0) {
        const p = (c - 1) >> 1;
        const hp = heap[p]!;
        if (!before(values[hp]!, hp, v, i)) break;
        heap[c] = hp;
        c = p;
      }
      heap[c] = i;
    } else {
      const root = heap[0]!;
      if (!before(v, i, values[root]!, root)) continue;
      siftDown(values, heap, size, i);
    }
  }
  // Pop the worst repeatedly into the back of `out`: best ends up first.
  const sorted = heap === out ? heap.slice(0, size) : heap;
  for (let end = size - 1; end >= 0; end--) {
    const worst = sorted[0]!;
    const last = sorted[end]!;
    if (end > 0) siftDown(values, sorted, end, last);
    out[end] = worst;
  }
  return size;
}

/** Places `item` at the root of heap[0..size) and sifts it down to its place. */
function siftDown(values: ArrayLike<number>, heap: Int32Array, size: number, item: number): void {
  const v = values[item]!;
  let c = 0;
  for (;;) {
    let child = 2 * c + 1;
    if (child >= size) break;
    let w = heap[child]!;
    if (child + 1 < size) {
      const hr = heap[child + 1]!;
      // the worse of the two children moves up
      if (before(values[w]!, w, values[hr]!, hr)) {
        w = hr;
        child++;
      }
    }
    if (!before(v, item, values[w]!, w)) break;
    heap[c] = w;
    c = child;
  }
  heap[c] = item;
}
