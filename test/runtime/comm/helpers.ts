/** Test helpers: W ranks in one process on 127.0.0.1, seeded random data, a float64 reference. */
import net from 'node:net';
import { initProcessGroup, type ProcessGroup } from '../../../src/runtime/comm/index.ts';

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const addr = srv.address();
  await new Promise<void>((r) => srv.close(() => r()));
  if (typeof addr !== 'object' || !addr) throw new Error('no port');
  return addr.port;
}

export async function makeWorld(worldSize: number, opts: { timeoutMs?: number; chunkBytes?: number } = {}): Promise<ProcessGroup[]> {
  const masterPort = await freePort();
  return Promise.all(
    Array.from({ length: worldSize }, (_, rank) =>
      initProcessGroup({ rank, worldSize, masterAddr: '127.0.0.1', masterPort, timeoutMs: opts.timeoutMs ?? 10_000, chunkBytes: opts.chunkBytes }),
    ),
  );
}

export async function destroyAll(groups: ProcessGroup[]): Promise<void> {
  await Promise.all(groups.map((g) => g.destroy()));
}

export { seededFloats as randomArray } from '../../helpers/random.ts';

/** Sequential float64 reduction of equal-length arrays. */
export function reference(inputs: Float32Array[], op: 'sum' | 'avg' | 'max' | 'min'): Float64Array {
  const n = inputs[0]!.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let acc = op === 'max' ? -Infinity : op === 'min' ? Infinity : 0;
    for (const x of inputs) {
      const v = x[i]!;
      acc = op === 'max' ? Math.max(acc, v) : op === 'min' ? Math.min(acc, v) : acc + v;
    }
    out[i] = op === 'avg' ? acc / inputs.length : acc;
  }
  return out;
}

/** Largest |got - want| over the arrays. */
export function maxAbsError(got: Float32Array, want: Float64Array): number {
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i]! - want[i]!));
  return m;
}

export function sameBytes(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
