/** `ds bench kernels [--json]`: matmul GFLOP/s per available backend, then the per-op costs that guide a model's layout. */
import * as tf from '@tensorflow/tfjs-core';
// The cpu backend is measured too, as the baseline, even when another one is live.
import '@tensorflow/tfjs-backend-cpu';
import type { CommandModule } from 'yargs';
import { initBackend } from '../../../runtime/backend/index.ts';
import { measureMatmulGflops, measureOpUs } from '../../../runtime/backend/bench.ts';
import { formatTable } from '../../table.ts';

interface Args { json: boolean; reps: number }

interface MatmulCase { readonly name: string; readonly m: number; readonly k: number; readonly n: number; readonly transposeB?: boolean; readonly batch?: number }

const MATMULS: readonly MatmulCase[] = [
  { name: '256³', m: 256, k: 256, n: 256 },
  { name: '512³', m: 512, k: 512, n: 512 },
  { name: '1024³', m: 1024, k: 1024, n: 1024 },
  { name: 'ffn 2048×256·256×688', m: 2048, k: 256, n: 688 },
  { name: 'ffn x·Wᵀ 2048×256·(688×256)ᵀ', m: 2048, k: 256, n: 688, transposeB: true },
  // Attention at B=16, H=8, T=128, Dh=32: scores Q·Kᵀ batched over B·H, and the same FLOPs as one plain product.
  { name: 'attn Q·Kᵀ [128,128,32]·[128,128,32]ᵀ', m: 128, k: 32, n: 128, transposeB: true, batch: 128 },
  { name: 'attn P·V [128,128,128]·[128,128,32]', m: 128, k: 128, n: 32, batch: 128 },
  { name: 'same FLOPs plain 16384×32·32×128', m: 16384, k: 32, n: 128 },
];

interface OpCase {
  readonly name: string;
  readonly make: () => tf.Tensor[];
  readonly op: (...xs: tf.Tensor[]) => tf.Tensor;
  /** False where the cpu backend takes seconds a call (its segment sum is O(segments · N)). */
  readonly onCpu?: false;
}

const normal = (...shapes: number[][]) => () => shapes.map((s) => tf.randomNormal(s));

const OPS: readonly OpCase[] = [
  { name: 'add [1]+[1] (dispatch floor)', make: normal([1], [1]), op: (a, b) => tf.add(a!, b!) },
  { name: 'add [16,128,256] (memory-bound)', make: normal([16, 128, 256], [16, 128, 256]), op: (a, b) => tf.add(a!, b!) },
  { name: 'transpose [16,128,8,32] → [16,8,128,32]', make: normal([16, 128, 8, 32]), op: (x) => tf.transpose(x!, [0, 2, 1, 3]) },
  { name: 'softmax [128,128,128]', make: normal([128, 128, 128]), op: (x) => tf.softmax(x!), onCpu: false },
  { name: 'gather grad: segment sum [2048,256] → 4096 rows', make: () => [tf.randomNormal([2048, 256]), tf.randomUniformInt([2048], 0, 4096)], op: (x, ids) => tf.unsortedSegmentSum(x!, ids as tf.Tensor1D, 4096), onCpu: false },
];

// The cpu backend runs ~1 GFLOP/s: larger products would take minutes.
const CPU_MAX_FLOPS = 2 * 512 ** 3;

export const kernelsBenchCommand: CommandModule<object, Args> = {
  command: 'kernels',
  describe: 'matmul GFLOP/s per available backend, and per-op costs',
  builder: (y) => y.option('json', { type: 'boolean', default: false }).option('reps', { type: 'number', default: 5, describe: 'timed runs per figure (median)' }) as never,
  handler: async (argv) => {
    const info = await initBackend();
    const backends = [...new Set([info.name, 'wasm', 'cpu'])].filter((b) => tf.findBackend(b) ?? tf.engine().registryFactory[b]);
    const matmul: { backend: string; shape: string; m: number; k: number; n: number; batch: number; transposeB: boolean; gflops: number }[] = [];
    const ops: { backend: string; op: string; us: number }[] = [];
    for (const backend of backends) {
      for (const c of MATMULS) {
        const batch = c.batch ?? 1;
        if (backend === 'cpu' && 2 * batch * c.m * c.k * c.n > CPU_MAX_FLOPS) continue;
        const gflops = await measureMatmulGflops(backend, c.m, c.k, c.n, { reps: argv.reps, transposeB: c.transposeB, batch: c.batch });
        matmul.push({ backend, shape: c.name, m: c.m, k: c.k, n: c.n, batch, transposeB: c.transposeB ?? false, gflops });
      }
      for (const o of OPS) {
        if (backend === 'cpu' && o.onCpu === false) continue;
        ops.push({ backend, op: o.name, us: await measureOpUs(backend, o.make, o.op, backend === 'cpu' ? 2 : 20) });
      }
    }
    if (argv.json) {
      process.stdout.write(`${JSON.stringify({ backend: info.name, simd: info.simd, threads: info.threads, matmul, ops })}\n`);
      return;
    }
    const cell = (rows: typeof matmul, b: string, shape: string) => rows.find((r) => r.backend === b && r.shape === shape)?.gflops.toFixed(1) ?? '-';
    process.stdout.write(`matmul GFLOP/s (float32; live backend ${info.name}, SIMD ${info.simd ?? 'n/a'}, threads ${info.threads})\n`);
    process.stdout.write(`${formatTable(['shape', ...backends], MATMULS.map((c) => [c.name, ...backends.map((b) => cell(matmul, b, c.name))]))}\n\n`);
    process.stdout.write('per-op cost, µs (median)\n');
    const us = (b: string, op: string) => ops.find((r) => r.backend === b && r.op === op)?.us.toFixed(1) ?? '-';
    process.stdout.write(`${formatTable(['op', ...backends], OPS.map((o) => [o.name, ...backends.map((b) => us(b, o.name))]))}\n`);
  },
};
