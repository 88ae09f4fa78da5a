/**
 * The training matmuls of the bench reference model (d256, ff 688, vocab 258, B·T = 2048, 8 heads
 * of 32), native sgemm against tfjs-wasm's XNNPACK path, alternating in one process so the load
 * the machine carries is shared by both:
 *   node --import ./bin/register.js scripts/bench_train_matmuls.ts [rounds].
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/runtime/backend/index.ts';
import { useNativeMatMul } from '../src/runtime/backend/kernels/batch_mat_mul_wasm.ts';
import { loadNative } from '../src/runtime/backend/native.ts';
import { medianMs } from '../src/runtime/backend/bench.ts';

const rounds = Number(process.argv[2] ?? 3);
await initBackend({ force: 'wasm' });
const native = loadNative({ enabled: true });
if (!native.kernels) throw new Error(`native kernels: ${native.why}`);
// [name, batch, M, K, N, transposeA, transposeB]
const shapes: [string, number, number, number, number, boolean, boolean][] = [
  ['gate x·Wᵀ', 1, 2048, 256, 688, false, true],
  ['down dX = dY·W', 1, 2048, 688, 256, false, false],
  ['gate dW = dYᵀ·X', 1, 688, 2048, 256, true, false],
  ['lm_head x·Wᵀ', 1, 2048, 256, 258, false, true],
  ['attn QKᵀ', 128, 128, 32, 128, false, true],
  ['attn PV', 128, 128, 128, 32, false, false],
];
console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, ${os.availableParallelism()} CPUs; native ${native.why}`);
console.log('product | xnnpack GFLOP/s | native GFLOP/s | native / xnnpack');
for (const [name, batch, M, K, N, ta, tb] of shapes) {
  const a = tf.randomNormal(ta ? [batch, K, M] : [batch, M, K]);
  const b = tf.randomNormal(tb ? [batch, N, K] : [batch, K, N]);
  const run = (): void => tf.tidy(() => void tf.matMul(a, b, ta, tb).dataId);
  const best = { xnn: Infinity, nat: Infinity };
  for (let r = 0; r < rounds; r++) {
    useNativeMatMul(null);
    best.xnn = Math.min(best.xnn, medianMs(run, 3, 1));
    useNativeMatMul(native.kernels);
    best.nat = Math.min(best.nat, medianMs(run, 3, 1));
  }
  const gf = (ms: number): number => (2 * batch * M * K * N) / (ms * 1e6);
  console.log(`${name} [${batch}]${M}×${K}·${K}×${N} | ${gf(best.xnn).toFixed(1)} | ${gf(best.nat).toFixed(1)} | ${(best.xnn / best.nat).toFixed(2)}×`);
  tf.dispose([a, b]);
}
