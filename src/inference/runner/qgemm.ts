/**
 * Products with weights kept in their stored format (kernels/qdot.c, kernels/kdot.c): a weight is
 * its N rows of K elements as ggml blocks, in the arena, possibly in several parts of different
 * types (a fused q/k/v where v is Q6_K and q, k are Q4_K). Quantized parts read the activations
 * quantized once per product to 8 bits per 32 elements; F16 / BF16 parts read them as float32.
 *
 *   parts:  [rows_0, K] type_0 | [rows_1, K] type_1 | …     (Σ rows = N; part p fills columns from Σ_{q<p} rows_q)
 *   q8 scratch at q8Off:  qs int16 [M, K] (8-bit values, widened) | d f32 [M, K/32] | s i32 [M, K/32]
 *                         | panel f32 [K, 8] (a part on the panel path dequantizes into it)
 */
import { assert } from '../../errors.ts';
import { GgmlType, type GgmlTypeId } from '../loaders/gguf/constants.ts';
import { tensorType } from '../loaders/gguf/tensor_types.ts';
import type { HostTensor } from '../loaders/types.ts';
import type { SharedArena } from '../wasm/arena.ts';
import { instantiateKernel } from '../wasm/module.ts';

const QDOT = new URL('./kernels/qdot.wasm', import.meta.url);
const KDOT = new URL('./kernels/kdot.wasm', import.meta.url);
const DQGEMM = new URL('./kernels/dqgemm.wasm', import.meta.url);

/**
 * From this many activation rows on, a part is computed by dequantizing 8 rows at a time into a
 * float32 panel and running the float32 tile over all rows (dqgemm.c): the (scalar)
 * dequantization is 1/M of the work, and the float tile outruns the 8-bit dot kernels on many
 * rows. Measured on a 768 × 16384 product (quiet machine): the Q8_0 / Q4_0 dot kernels beat
 * float32 panels at 8 rows and tie at 32; the k-quant ones trail from 8 rows (Q4_K 1.2×, 2.4× at
 * 32), and F16 / BF16's (widening in registers) from 1 row, but less than the panels' scalar
 * dequantization costs them below 16 rows (25M-parameter F16 model, batch 8: 0.49× float32 on
 * panels from 4 rows).
 */
const PANEL_MIN_ROWS: Readonly<Record<number, number>> = { [GgmlType.F16]: 16, [GgmlType.BF16]: 16, [GgmlType.Q4_K]: 16, [GgmlType.Q5_K]: 16, [GgmlType.Q6_K]: 16 };
const LEGACY_PANEL_MIN_ROWS = 32;
const panelRows = (t: number) => (PANEL_ONLY.has(t) ? 1 : (PANEL_MIN_ROWS[t] ?? LEGACY_PANEL_MIN_ROWS));

export interface RowsPart {
  readonly type: GgmlTypeId;
  readonly offset: number;
  readonly rows: number;
}

/** A linear weight [N, K] kept as stored rows: plain data, to hand to other threads. */
export interface RowsMatrix {
  readonly K: number;
  readonly N: number;
  readonly parts: readonly RowsPart[];
}

type QuantKernel = (qs: number, d: number, s: number, M: number, K: number, w: number, n0: number, n1: number, c: number, ldc: number) => void;
type HalfKernel = (a: number, M: number, K: number, w: number, n0: number, n1: number, c: number, ldc: number) => void;

/** The types with a kernel, by whether they read 8-bit activations. */
const QUANT_KERNELS = { [GgmlType.Q8_0]: 'dot_q8_0', [GgmlType.Q4_0]: 'dot_q4_0', [GgmlType.Q4_1]: 'dot_q4_1', [GgmlType.Q5_0]: 'dot_q5_0', [GgmlType.Q5_1]: 'dot_q5_1', [GgmlType.Q4_K]: 'dot_q4_k', [GgmlType.Q5_K]: 'dot_q5_k', [GgmlType.Q6_K]: 'dot_q6_k' } as const;
const HALF_KERNELS = { [GgmlType.F16]: 'dot_f16', [GgmlType.BF16]: 'dot_bf16' } as const;
/** Types with only the dequantized-panel kernel (dqgemm.c), at every row count: no 8-bit dot kernel yet. */
const PANEL_ONLY: ReadonlySet<number> = new Set([GgmlType.Q2_K, GgmlType.Q3_K]);
const isQuant = (t: number): t is keyof typeof QUANT_KERNELS => t in QUANT_KERNELS;
const isHalf = (t: number): t is keyof typeof HALF_KERNELS => t in HALF_KERNELS;

/** Whether these HF linear weights [out_k, in] can be kept as stored rows (every part a type with a kernel). */
export function keepsRows(parts: readonly HostTensor[]): boolean {
  return parts.every((p) => p.stored !== undefined && (isQuant(p.stored.type) || isHalf(p.stored.type) || PANEL_ONLY.has(p.stored.type)));
}

/** Bytes of one row of K elements of `type`. */
export function rowBytes(type: GgmlTypeId, K: number): number {
  const t = tensorType(type);
  return (K / t.elems) * t.bytes;
}

/** Copies the parts' stored rows into the arena (one region each); `reuse` maps a tensor to a region already placed (a tied LM head reads the embedding's). */
export function placeRows(arena: SharedArena, parts: readonly HostTensor[], what: string, reuse?: Map<HostTensor, number>): RowsMatrix {
  const K = parts[0]!.shape[1]!;
  const out: RowsPart[] = parts.map((p) => {
    assert(p.stored !== undefined && p.shape[1] === K, () => `placeRows(${what}): parts disagree on the input size or are not stored`);
    let offset = reuse?.get(p);
    if (offset === undefined) {
      offset = arena.alloc(p.stored.byteLength, what);
      p.stored.copyTo(arena.u8(offset, p.stored.byteLength));
    }
    return { type: p.stored.type, offset, rows: p.shape[0]! };
  });
  return { K, N: out.reduce((n, p) => n + p.rows, 0), parts: out };
}

/** Bytes of the q8 scratch for M rows of K. */
export function q8ScratchBytes(M: number, K: number): number {
  return 2 * M * K + 16 + 8 * M * Math.ceil(K / 32) + 16 + 32 * K;
}

export class QuantGemm {
  private readonly quantize: (a: number, M: number, K: number, qs: number, d: number, s: number) => void;
  private readonly quant: Record<keyof typeof QUANT_KERNELS, QuantKernel>;
  private readonly half: Record<keyof typeof HALF_KERNELS, HalfKernel>;
  private readonly panelGemm: (a: number, M: number, K: number, type: number, w: number, rowBytes: number, N: number, c: number, ldc: number, panel: number) => void;

  constructor(arena: SharedArena) {
    this.panelGemm = instantiateKernel(DQGEMM, arena.memory).dq_gemm as QuantGemm['panelGemm'];
    const q = instantiateKernel(QDOT, arena.memory);
    const k = instantiateKernel(KDOT, arena.memory);
    const all = { ...q, ...k };
    this.quantize = q.quantize_q8 as QuantGemm['quantize'];
    this.quant = Object.fromEntries(Object.entries(QUANT_KERNELS).map(([t, name]) => [t, all[name]])) as QuantGemm['quant'];
    this.half = Object.fromEntries(Object.entries(HALF_KERNELS).map(([t, name]) => [t, all[name]])) as QuantGemm['half'];
  }

  /** c[M, N] (row-major, byte offset cOff) = a[M, K] (aOff) · wᵀ; q8Off: q8ScratchBytes(M, K) of scratch. */
  run(aOff: number, w: RowsMatrix, cOff: number, M: number, q8Off: number): void {
    if (M === 0) return;
    this.prepare(aOff, w, M, q8Off);
    this.rows(aOff, w, cOff, M, q8Off, q8Layout(q8Off, M, w.K).panel, 0, w.N);
  }

  /** The part of run() done once per product: the activations quantized to 8 bits where a part reads them so. */
  prepare(aOff: number, w: RowsMatrix, M: number, q8Off: number): void {
    if (M === 0 || !w.parts.some((p) => isQuant(p.type) && M < panelRows(p.type))) return;
    assert(w.K % 32 === 0, () => `QuantGemm: K ${w.K} is not a multiple of 32`);
    const { qs, d, s } = q8Layout(q8Off, M, w.K);
    this.quantize(aOff, M, w.K, qs, d, s);
  }

  /**
   * Output columns r0 ≤ n < r1 of run()'s product (rows of the weight), after prepare(): any
   * thread may run any range. `panelOff`: 32·K bytes of this thread's own scratch.
   */
  rows(aOff: number, w: RowsMatrix, cOff: number, M: number, q8Off: number, panelOff: number, r0: number, r1: number): void {
    if (M === 0) return;
    const K = w.K;
    const { qs, d, s } = q8Layout(q8Off, M, K);
    let col = 0;
    for (const p of w.parts) {
      const lo = Math.max(r0, col) - col;
      const hi = Math.min(r1, col + p.rows) - col;
      if (lo < hi) {
        const c = cOff + 4 * col;
        if (M >= panelRows(p.type)) {
          const rb = rowBytes(p.type, K);
          this.panelGemm(aOff, M, K, p.type, p.offset + lo * rb, rb, hi - lo, c + 4 * lo, w.N, panelOff);
        } else if (isQuant(p.type)) this.quant[p.type](qs, d, s, M, K, p.offset, lo, hi, c, w.N);
        else if (isHalf(p.type)) this.half[p.type](aOff, M, K, p.offset, lo, hi, c, w.N);
        else assert(false, () => `QuantGemm: no kernel for ggml type ${p.type}`);
      }
      col += p.rows;
    }
  }
}

/** Where the q8 scratch's arrays are (the header's picture), from its start. */
function q8Layout(q8Off: number, M: number, K: number): { qs: number; d: number; s: number; panel: number } {
  const align16 = (x: number) => Math.ceil(x / 16) * 16; // (offsets may pass 2^31: no bitwise ops)
  const d = align16(q8Off + 2 * M * K);
  const s = d + 4 * M * Math.ceil(K / 32);
  return { qs: q8Off, d, s, panel: align16(s + 4 * M * Math.ceil(K / 32)) };
}

/** Bytes of the float32 panel dqgemm dequantizes into (8 rows of K). */
export const panelBytes = (K: number) => 32 * K;
