/**
 * Sums over the data-parallel group with fp16 on the wire made safe. Before narrowing, every
 * rank agrees on the largest |value| of the bucket (one scalar max all-reduce), scales by the
 * power of two that f16WireScale picks, and unscales the result: small gradients keep their
 * digits instead of flushing to zero. bf16 has float32's exponent range and float32 needs
 * nothing, so those go straight through.
 */
import type { ProcessGroup, WireDtype } from '../runtime/comm/index.ts';
import { f16WireScale } from '../runtime/comm/half.ts';

function maxAbs(buf: Float32Array): number {
  let m = 0;
  for (let i = 0; i < buf.length; i++) {
    const a = Math.abs(buf[i]!);
    if (a > m || a !== a) m = a;
  }
  return m;
}

/** The scale every rank will use for `buf` (collective: every rank must call it). */
async function agreedScale(pg: ProcessGroup, buf: Float32Array, wire: WireDtype): Promise<number> {
  if (wire !== 'fp16') return 1;
  const m = new Float32Array([maxAbs(buf)]);
  await pg.allReduce(m, { op: 'max' });
  return f16WireScale(m[0]!, pg.worldSize);
}

function scale(buf: Float32Array, s: number): void {
  if (s !== 1) for (let i = 0; i < buf.length; i++) buf[i]! *= s;
}

/** In place: buf ← Σ_ranks buf. */
export async function sumAllReduce(pg: ProcessGroup, buf: Float32Array, wire: WireDtype): Promise<void> {
  const s = await agreedScale(pg, buf, wire);
  scale(buf, s);
  await pg.allReduce(buf, { op: 'sum', wireDtype: wire });
  scale(buf, 1 / s);
}

/** out [m] ← Σ_ranks input[rank·m, (rank+1)·m); input [n·m] is scaled in place and left scaled. */
export async function sumReduceScatter(pg: ProcessGroup, input: Float32Array, out: Float32Array, wire: WireDtype): Promise<void> {
  const s = await agreedScale(pg, input, wire);
  scale(input, s);
  await pg.reduceScatter(input, out, { op: 'sum', wireDtype: wire });
  scale(out, 1 / s);
}
